"""The three strategies of strategies.md as pure incremental logic: folds over closed candles."""
