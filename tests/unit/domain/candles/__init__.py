"""Unit tests of domain/candles."""
