"""Positions: what one strategy holds in one market, changed only by fills."""
