"""Trading sessions: the day [00:00 UTC, 24:00 UTC) = [09:00 KST, 09:00 KST next day).

strategies.md "Session" fixes the boundary (the same as Upbit's daily candles). A session is
named by its *trading day*: the date on which it opens, which is the same date in UTC and KST.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from domain.clock import require_utc, to_kst


def trading_day(at: datetime) -> date:
    """Return the trading day (session date) that contains the instant `at`."""
    return require_utc(at).date()


def session_start(day: date) -> datetime:
    """Return the UTC instant at which the session of `day` opens (09:00 KST)."""
    return datetime.combine(day, time(0, 0), tzinfo=UTC)


def session_end(day: date) -> datetime:
    """Return the UTC instant at which the session of `day` closes (exclusive)."""
    return session_start(day) + timedelta(days=1)


def session_label(day: date) -> str:
    """Return a human label of the session in both clocks."""
    start = session_start(day)
    return f"{day.isoformat()} (from {start:%H:%M} UTC / {to_kst(start):%H:%M} KST)"
