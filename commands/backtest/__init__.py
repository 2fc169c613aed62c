"""Backtests as replays: closed candles in, the ledger's events out (strategies.md)."""
