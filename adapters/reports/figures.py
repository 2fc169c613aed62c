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


def risk_figure(limit: str, value: str) -> str:
    """Return a risk limit's figure: a drawdown as a percentage, a rate per minute, else KRW."""
    if "drawdown" in limit:
        return f"{Decimal(value) * 100:.4f} %"
    if limit == "max_orders_per_minute":
        return f"{value} orders per minute"
    return f"{format_figure(value)} KRW"
