"""Domain time: every instant is timezone-aware UTC, with its KST (Asia/Seoul) copy derived here.

The domain never reads the wall clock; callers at the edge (API, CLI, ingest) pass the time in.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from domain.errors import InvalidDomainTimeError

KST = timezone(timedelta(hours=9), "KST")
"""Korea Standard Time, UTC+9, no daylight saving (upbit-api.md §9)."""


def require_utc(at: datetime, what: str = "time") -> datetime:
    """Return `at` converted to UTC.

    Raises:
        InvalidDomainTimeError: `at` is naive (carries no time zone).
    """
    if not isinstance(at, datetime):
        raise InvalidDomainTimeError(f"{what} must be a datetime; {at!r} was found")
    if at.tzinfo is None or at.utcoffset() is None:
        raise InvalidDomainTimeError(
            f"{what} {at.isoformat()} has no time zone; domain times must be timezone-aware"
        )
    return at.astimezone(UTC)


def to_kst(at: datetime) -> datetime:
    """Return the same instant on the KST clock (UTC+09:00)."""
    return require_utc(at).astimezone(KST)
