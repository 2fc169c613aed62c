"""Trading sessions: 09:00 KST to 09:00 KST, i.e. one UTC calendar day (strategies.md "Session")."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from domain.clock import KST
from domain.errors import InvalidDomainTimeError
from domain.sessions import session_end, session_label, session_start, trading_day


@pytest.mark.parametrize(
    ("instant", "day"),
    [
        (datetime(2025, 1, 7, 8, 59, 59, 999999, tzinfo=KST), date(2025, 1, 6)),
        (datetime(2025, 1, 7, 9, 0, tzinfo=KST), date(2025, 1, 7)),
        (datetime(2025, 1, 7, 0, 0, tzinfo=KST), date(2025, 1, 6)),
        (datetime(2025, 1, 6, 23, 59, tzinfo=UTC), date(2025, 1, 6)),
        (datetime(2025, 1, 7, 0, 0, tzinfo=UTC), date(2025, 1, 7)),
    ],
)
def test_trading_day_of_instant_changes_at_09_00_kst(instant: datetime, day: date) -> None:
    assert trading_day(instant) == day


def test_session_opens_at_00_00_utc_which_is_09_00_kst() -> None:
    start = session_start(date(2025, 1, 6))

    assert start == datetime(2025, 1, 6, 0, 0, tzinfo=UTC)
    assert start.astimezone(KST).hour == 9


def test_session_ends_exactly_one_day_later_at_the_next_opening() -> None:
    day = date(2025, 1, 6)

    assert session_end(day) - session_start(day) == timedelta(days=1)
    assert session_end(day) == session_start(date(2025, 1, 7))
    assert trading_day(session_end(day) - timedelta(microseconds=1)) == day


def test_session_label_names_both_clocks() -> None:
    assert session_label(date(2025, 1, 6)) == "2025-01-06 (from 00:00 UTC / 09:00 KST)"


def test_trading_day_of_naive_time_is_refused() -> None:
    with pytest.raises(InvalidDomainTimeError):
        trading_day(datetime(2025, 1, 6, 9, 0))  # noqa: DTZ001 - the refusal is the point
