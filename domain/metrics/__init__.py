"""Performance metrics with the same definitions everywhere (strategies.md "Metrics")."""
