"""Unit tests of the strategies, rule by rule (strategies.md)."""
