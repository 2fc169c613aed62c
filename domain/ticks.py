"""Upbit KRW tick sizes by effective date, and rounding of prices to the tick grid.

Source: upbit-api.md §7.1. A table applies from 00:00 KST of its effective date (the change
is made at a maintenance window that night); lower band bounds are inclusive.
For KRW-BTC the tick has been 1,000 KRW in every table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from domain.clock import KST, require_utc
from domain.errors import PriceOffTickError

D = Decimal


@dataclass(frozen=True)
class TickTable:
    """One generation of the KRW tick table: bands (lower bound, tick), highest first."""

    effective_from: datetime
    label: str
    bands: tuple[tuple[Decimal, Decimal], ...]
    below_lowest_tick: Decimal | None
    """The tick below the lowest band; None = one decimal finer per decade (to 1e-8)."""

    def tick_for(self, price: Decimal) -> tuple[Decimal, Decimal]:
        """Return (band lower bound, tick) for a positive price."""
        for lower, tick in self.bands:
            if price >= lower:
                return lower, tick
        lower, tick = self.bands[-1]
        if self.below_lowest_tick is not None:
            return D(0), self.below_lowest_tick
        while price < lower and tick > D("1e-8"):
            lower, tick = lower / 10, tick / 10
        return lower, tick


_UPPER_BANDS = (D(2_000_000), D(1_000_000), D(500_000), D(100_000), D(50_000), D(10_000))
_LOWER_BANDS = (D(5_000), D(1_000), D(100), D(10), D(1), D("0.1"))


def _bands(*ticks: str) -> tuple[tuple[Decimal, Decimal], ...]:
    return tuple(zip(_UPPER_BANDS + _LOWER_BANDS, (D(t) for t in ticks), strict=True))


TICK_TABLES: tuple[TickTable, ...] = (
    TickTable(
        effective_from=datetime(2025, 7, 31, tzinfo=KST),
        label="since 2025-07-31",
        bands=_bands(
            "1000", "1000", "500", "100", "50", "10", "5", "1", "1", "0.1", "0.01", "0.001"
        ),
        below_lowest_tick=None,
    ),
    TickTable(
        effective_from=datetime(2024, 1, 29, tzinfo=KST),
        label="2024-01-29 to 2025-07-30",
        bands=_bands(
            "1000", "500", "100", "50", "10", "10", "1", "1", "0.1", "0.01", "0.001", "0.0001"
        ),
        below_lowest_tick=None,
    ),
    TickTable(
        effective_from=datetime.min.replace(tzinfo=KST),
        label="before 2024-01-29",
        bands=_bands("1000", "500", "100", "50", "10", "10", "5", "5", "1", "0.1", "0.01", "0.001"),
        below_lowest_tick=D("0.0001"),
    ),
)


def tick_table_at(at: datetime) -> TickTable:
    """Return the tick table in force at the instant `at`."""
    moment = require_utc(at)
    for table in TICK_TABLES:
        if moment >= table.effective_from:
            return table
    return TICK_TABLES[-1]


def tick_size(price: Decimal, at: datetime) -> Decimal:
    """Return the tick size for a positive KRW price at the instant `at`."""
    return tick_table_at(at).tick_for(price)[1]


def is_on_tick(price: Decimal, at: datetime) -> bool:
    """Return True when the price is a whole multiple of its tick size."""
    return price % tick_size(price, at) == 0


def round_down_to_tick(price: Decimal, at: datetime) -> Decimal:
    """Return the highest price on the tick grid that is <= `price` (buys round down)."""
    tick = tick_size(price, at)
    return (price / tick).to_integral_value(rounding=ROUND_FLOOR) * tick


def round_up_to_tick(price: Decimal, at: datetime) -> Decimal:
    """Return the lowest price on the tick grid that is >= `price` (sells round up)."""
    tick = tick_size(price, at)
    return (price / tick).to_integral_value(rounding=ROUND_CEILING) * tick


def require_on_tick(price: Decimal, at: datetime, what: str = "limit price") -> Decimal:
    """Return `price` when it lies on the tick grid.

    Raises:
        PriceOffTickError: the price is not a multiple of its tick; the message names the
            tick, the band and the two nearest valid prices.
    """
    table = tick_table_at(at)
    lower, tick = table.tick_for(price)
    if price % tick == 0:
        return price
    raise PriceOffTickError(
        f"{what} {price:,} KRW is not a multiple of the tick size {tick:,} KRW that applies "
        f"to prices from {lower:,} KRW (Upbit KRW tick table {table.label}); the nearest "
        f"valid prices are {round_down_to_tick(price, at):,} and {round_up_to_tick(price, at):,}"
    )
