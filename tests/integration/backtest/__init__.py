"""Backtests over the real candle files in ../shared (skipped when absent)."""
