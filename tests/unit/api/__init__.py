"""Unit tests of the entry points' configuration."""
