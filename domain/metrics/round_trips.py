"""Round trips: from a strategy's position leaving zero to returning to zero.

Net P&L of a round trip = the strategy's cash after the fill that returns the position to zero
minus its cash before the fill that left zero, fees included (clarification 10).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True)
class TradeFill:
    """One fill as the metrics need it."""

    time: datetime
    side: str
    price_krw: Decimal
    qty_btc: Decimal
    fee_krw: Decimal


@dataclass(frozen=True)
class RoundTrip:
    """One round trip and its net P&L in KRW."""

    opened_at: datetime
    closed_at: datetime
    net_pnl_krw: Decimal


def round_trips(fills: Iterable[TradeFill], starting_cash: Decimal) -> list[RoundTrip]:
    """Return the completed round trips of one strategy's fills, in order."""
    trips: list[RoundTrip] = []
    cash, qty = starting_cash, Decimal(0)
    opened: tuple[datetime, Decimal] | None = None
    for fill in fills:
        funds = fill.qty_btc * fill.price_krw
        if qty == 0 and opened is None:
            opened = (fill.time, cash)
        if fill.side == "bid":
            cash -= funds + fill.fee_krw
            qty += fill.qty_btc
        else:
            cash += funds - fill.fee_krw
            qty -= fill.qty_btc
        if qty == 0 and opened is not None:
            trips.append(RoundTrip(opened[0], fill.time, cash - opened[1]))
            opened = None
    return trips
