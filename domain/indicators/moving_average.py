"""Simple moving average and the noise ratio of session bars (strategies.md §1)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal


def simple_mean(values: Sequence[Decimal], days: int) -> Decimal | None:
    """Return the mean of the last `days` values (summed in order), or None if fewer."""
    if days < 1 or len(values) < days:
        return None
    total = Decimal(0)
    for value in values[-days:]:
        total += value
    return total / days


def noise_ratio(open_: Decimal, high: Decimal, low: Decimal, close: Decimal) -> Decimal:
    """Return `1 - |open - close| / (high - low)`; a bar with high == low counts as noise 1."""
    if high == low:
        return Decimal(1)
    return 1 - abs(open_ - close) / (high - low)
