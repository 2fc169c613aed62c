"""How figures read in tables: decimals with thousands and 2 places, ratios with 4 places."""

from __future__ import annotations

from decimal import Decimal
from typing import Any


def format_figure(value: Any) -> str:
    """Return a report cell: '-' for none, 4-place floats, grouped 2-place decimal strings."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, str):
        try:
            return f"{Decimal(value):,.2f}"
        except ArithmeticError:
            return value
    return f"{value:,}" if isinstance(value, int) else str(value)
