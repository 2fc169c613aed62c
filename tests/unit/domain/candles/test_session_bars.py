"""Session bars: [00:00 UTC, 24:00 UTC), complete at the candle closing at the session's end."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D

from domain.candles.candle import Candle
from domain.session_bars import SessionBarBuilder


def at(day: int, hour: int, minute: int) -> datetime:
    return datetime(2023, 1, day, hour, minute, tzinfo=UTC)


def candle(open_time: datetime, o: str, h: str, lo: str, c: str, v: str = "1") -> Candle:
    return Candle(open_time, D(o), D(h), D(lo), D(c), D(v), D(v) * 100)


def test_bar_completes_at_the_candle_closing_at_the_session_end() -> None:
    # Given a partial first session: 23:57, 23:58 and 23:59 UTC of Jan 1
    builder = SessionBarBuilder()
    assert builder.add(candle(at(1, 23, 57), "100", "110", "95", "105")) == ()
    assert builder.add(candle(at(1, 23, 58), "105", "120", "101", "102", "2")) == ()
    # When the 23:59 candle closes at 24:00 UTC (09:00 KST)
    (bar,) = builder.add(candle(at(1, 23, 59), "102", "103", "90", "99", "3"))
    # Then the bar is first open, max high, min low, last close
    assert bar.day == date(2023, 1, 1)
    assert (bar.open, bar.high, bar.low, bar.close) == (D(100), D(120), D(90), D(99))
    assert bar.first_open_time == at(1, 23, 57)
    assert builder.current is None


def test_next_session_starts_fresh_after_a_complete_bar() -> None:
    builder = SessionBarBuilder()
    builder.add(candle(at(1, 23, 59), "100", "110", "95", "105"))
    assert builder.add(candle(at(2, 0, 0), "106", "107", "104", "105")) == ()
    assert builder.current is not None and builder.current.open == D(106)


def test_a_session_without_its_last_minute_completes_when_a_later_session_candle_arrives() -> None:
    builder = SessionBarBuilder()
    builder.add(candle(at(1, 12, 0), "100", "110", "95", "105"))
    (bar,) = builder.add(candle(at(2, 0, 0) + timedelta(minutes=1), "106", "107", "104", "105"))
    assert bar.day == date(2023, 1, 1) and bar.close == D(105)
