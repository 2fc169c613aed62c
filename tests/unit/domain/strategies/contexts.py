"""Builders of decision contexts for strategy tests."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D

from domain.candles.candle import Candle
from domain.session_bars import SessionBar
from domain.sessions import session_end
from domain.strategies.base import DecisionContext, StrategyBook

FEE = D("0.0005")
DAY = date(2023, 3, 10)
START = datetime(2023, 3, 10, tzinfo=UTC)


def bar(day_offset: int, o: int, h: int, lo: int, c: int) -> SessionBar:
    day = DAY + timedelta(days=day_offset)
    return SessionBar(
        day, D(o), D(h), D(lo), D(c), datetime(day.year, day.month, day.day, tzinfo=UTC)
    )


def candle(minute: int, o: int, h: int, lo: int, c: int) -> Candle:
    return Candle(START + timedelta(minutes=minute), D(o), D(h), D(lo), D(c), D(1))


def book(
    cash: str = "10000000",
    *,
    available: str | None = None,
    qty: str = "0",
    pending: tuple[str, ...] = (),
) -> StrategyBook:
    return StrategyBook(D(cash), D(available if available is not None else cash), D(qty), pending)


def context(
    c: Candle,
    bars: list[SessionBar],
    b: StrategyBook,
    *,
    session_open: int,
    just: SessionBar | None = None,
) -> DecisionContext:
    return DecisionContext(c, D(session_open), session_end(c.open_time.date()), bars, just, b, FEE)
