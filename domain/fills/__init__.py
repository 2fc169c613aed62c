"""The paper fill model shared by backtests and paper trading (strategies.md)."""
