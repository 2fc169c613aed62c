"""Unit tests of the backtest engine."""
