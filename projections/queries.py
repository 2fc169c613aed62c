"""What the query API may ask of the read models (the view interface; SQL lives in adapters).

Every list is ordered newest first unless said otherwise, and pages with an opaque cursor: the
answer's `next_cursor` continues the listing, None at its end.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

Row = Mapping[str, Any]


@dataclass(frozen=True)
class Page:
    """A page of rows and the cursor of the next one (None: no more)."""

    rows: Sequence[Row]
    next_cursor: str | None


class InvalidCursorError(ValueError):
    """A cursor that this listing did not hand out."""


class InvalidQueryValueError(ValueError):
    """A filter value the database cannot compare (e.g. text with a NUL byte)."""


class ReadModelQueries(Protocol):
    """Read-only questions over the read models."""

    def positions_of(self, names: Sequence[str]) -> dict[str, int]:
        """Return each named read model's applied log position."""
        ...

    def orders(
        self,
        *,
        status: str | None,
        strategy_id: str | None,
        market: str | None,
        limit: int,
        cursor: str | None,
    ) -> Page:
        """Return orders, newest first."""
        ...

    def order(self, order_id: UUID) -> Row | None:
        """Return one order with its `fill_list` and `status_history`, or None."""
        ...

    def reconciliations(self, *, run_id: str | None, limit: int, cursor: str | None) -> Page:
        """Return reconciliations, newest first, each with its `difference_list`."""
        ...

    def positions(self, *, strategy_id: str | None) -> Sequence[Row]:
        """Return every position (one per account, strategy and market)."""
        ...

    def daily_pnl(self, *, strategy_id: str | None, limit: int, cursor: str | None) -> Page:
        """Return realised P&L per strategy and KST trading day, newest day first."""
        ...

    def capital(self) -> Sequence[Row]:
        """Return each strategy's allocated capital and cash."""
        ...

    def signals(
        self, *, strategy_id: str | None, run_id: str | None, limit: int, cursor: str | None
    ) -> Page:
        """Return strategy signals, newest candle first."""
        ...

    def risk_state(self) -> Sequence[Row]:
        """Return each account's limits and trading state."""
        ...

    def risk_history(self, *, limit: int, cursor: str | None) -> Page:
        """Return risk changes, newest first."""
        ...

    def candles(
        self,
        *,
        market: str,
        interval: str,
        start: datetime | None,
        end: datetime | None,
        limit: int,
        cursor: str | None,
    ) -> Page:
        """Return candles of `interval` (1m, 1h, 1d) in [start, end), oldest first."""
        ...

    def equity_curve(
        self,
        *,
        account: str,
        strategy_id: str | None,
        market: str,
        interval: str,
        start: datetime | None,
        end: datetime | None,
        limit: int,
        cursor: str | None,
    ) -> Page:
        """Return the equity at each candle close of `interval` (1h, 1d) in [start, end).

        Each point is cash + BTC held x close, summed over every change of the book at or
        before the close, of one strategy or (strategy None) of every strategy of the account;
        oldest first, from the first change of the book on (`projections/equity_curve.py`).
        """
        ...

    def events(self, *, correlation_id: str, limit: int, cursor: str | None) -> Page:
        """Return the events of one flow, in log order, with their payloads."""
        ...
