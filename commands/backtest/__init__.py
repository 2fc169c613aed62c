"""Backtests: the run engine (`commands/run_engine/`) over a tape of closed candles, reported.

A backtest is the engine's tape driver plus the report of what it recorded (strategies.md).
"""
