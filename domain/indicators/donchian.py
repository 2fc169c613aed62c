"""Donchian channels: the highest high and lowest low of the previous n bars (today excluded)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal


def highest_high(highs: Sequence[Decimal], days: int) -> Decimal | None:
    """Return max of the last `days` values of `highs`, or None if there are fewer."""
    if days < 1 or len(highs) < days:
        return None
    return max(highs[-days:])


def lowest_low(lows: Sequence[Decimal], days: int) -> Decimal | None:
    """Return min of the last `days` values of `lows`, or None if there are fewer."""
    if days < 1 or len(lows) < days:
        return None
    return min(lows[-days:])
