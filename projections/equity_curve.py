"""The equity curve: a strategy's (or an account's) book marked to market at candle closes.

The `positions` read model keeps every change of cash and BTC held (`rm_book_changes`); the
curve is marked when it is queried, not when it is projected, because the log need not hold
a mark's candle before the book changes it prices (a persisted backtest records all its candles
before its fills). equity(t) = cash(t) + BTC held(t) x close(t), where cash(t) and BTC held(t)
sum every change at or before t, and t is a candle's close (its open time + its interval).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from types import MappingProxyType

from domain.clock import to_kst
from projections.queries import Row

MARK_STEPS: MappingProxyType[str, timedelta] = MappingProxyType(
    {"1h": timedelta(hours=1), "1d": timedelta(days=1)}
)
"""Candle interval -> its length: a candle's close (the mark) is its open time + this."""


@dataclass(frozen=True)
class BookState:
    """The book after one change: cash and BTC held, summed over every change up to it."""

    at_utc: datetime
    cash_krw: Decimal
    qty_btc: Decimal


@dataclass(frozen=True)
class Close:
    """A candle's close price at its close time (the mark)."""

    at_utc: datetime
    close_krw: Decimal


def mark_to_market(states: Iterable[BookState], closes: Iterable[Close]) -> list[Row]:
    """Return the equity at each close, from book states and closes both in time order.

    A close at t takes the last state at or before t, so it counts every change with a time
    <= t. Closes before the first state give no point. One pass over each input.
    """
    points: list[Row] = []
    pending = iter(states)
    upcoming = next(pending, None)
    current: BookState | None = None
    for close in closes:
        while upcoming is not None and upcoming.at_utc <= close.at_utc:
            current, upcoming = upcoming, next(pending, None)
        if current is None:
            continue
        points.append(
            {
                "at_utc": close.at_utc,
                "at_kst": to_kst(close.at_utc),
                "close_krw": close.close_krw,
                "cash_krw": current.cash_krw,
                "qty_btc": current.qty_btc,
                "equity_krw": current.cash_krw + current.qty_btc * close.close_krw,
            }
        )
    return points
