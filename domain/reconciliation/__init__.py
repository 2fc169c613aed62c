"""Reconciliation of a trading run with its exchange (issue 7, build point 4)."""
