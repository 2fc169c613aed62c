"""Indicators over session bars, in Decimal, in the order strategies.md writes the formulas."""
