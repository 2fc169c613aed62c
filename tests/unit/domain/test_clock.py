"""Domain time: timezone-aware UTC, and its KST (UTC+09:00) copy."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from domain.clock import KST, require_utc, to_kst
from domain.errors import InvalidDomainTimeError


def test_kst_is_utc_plus_nine_hours_without_daylight_saving() -> None:
    for month in (1, 7):
        assert KST.utcoffset(datetime(2025, month, 1, tzinfo=KST)) == timedelta(hours=9)
    assert datetime(2025, 1, 1, tzinfo=KST).tzname() == "KST"


def test_require_utc_of_aware_time_is_the_same_instant_in_utc() -> None:
    seoul_morning = datetime(2025, 1, 6, 9, 30, tzinfo=KST)

    converted = require_utc(seoul_morning)

    assert converted == datetime(2025, 1, 6, 0, 30, tzinfo=UTC)
    assert converted.utcoffset() == timedelta(0)


def test_require_utc_of_utc_time_is_unchanged() -> None:
    instant = datetime(2025, 1, 6, 0, 30, tzinfo=UTC)

    assert require_utc(instant) == instant


def test_require_utc_of_naive_time_is_refused_naming_the_time() -> None:
    naive = datetime(2025, 1, 6, 9, 30)  # noqa: DTZ001 - the refusal is the point

    with pytest.raises(InvalidDomainTimeError) as refused:
        require_utc(naive, "occurred_at")

    assert "occurred_at 2025-01-06T09:30:00 has no time zone" in str(refused.value)


@pytest.mark.parametrize("value", [date(2025, 1, 6), "2025-01-06T00:00:00Z", 1736121600])
def test_require_utc_of_non_datetime_is_refused(value: object) -> None:
    with pytest.raises(InvalidDomainTimeError, match="must be a datetime"):
        require_utc(value)  # type: ignore[arg-type]


def test_to_kst_is_the_same_instant_at_plus_nine_hours() -> None:
    instant = datetime(2025, 1, 5, 23, 59, tzinfo=UTC)

    kst = to_kst(instant)

    assert kst == instant
    assert kst.utcoffset() == timedelta(hours=9)
    assert (kst.date(), kst.hour, kst.minute) == (date(2025, 1, 6), 8, 59)


def test_to_kst_of_other_zone_converts_through_utc() -> None:
    new_york_winter = timezone(timedelta(hours=-5))

    kst = to_kst(datetime(2025, 1, 5, 19, 0, tzinfo=new_york_winter))

    assert kst.isoformat() == "2025-01-06T09:00:00+09:00"
