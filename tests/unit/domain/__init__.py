"""Unit tests of the pure domain: value types, rules and aggregates."""
