"""Reports written to files: the self-contained HTML backtest report."""
