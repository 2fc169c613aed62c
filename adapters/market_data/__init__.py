"""Market data files: candle CSVs in the format of shared/data/market/README.md."""
