"""The lines the CQRS pipeline says about its parts' sessions: outages, rate-limited, with cause.

A part that loses NATS or the database is told at once, with the cause and the error; while
it keeps failing (or flapping), at most one more line a part per `interval_s`, counting the
session restarts not told. That it works again is told at once after a loss was told, so the
newest line about a part is never stale.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from adapters.nats.sessions import NATS_LATE, SessionRecord

NOTICE_INTERVAL_S = 30.0


@dataclass
class _Told:
    restarts: int = 0
    """The part's session restarts when its last line was said."""
    is_up: bool = True
    at: float | None = None
    outage_from: int = 0
    """Its session restarts before the outage last told began."""


class SessionNotices:
    """Turns the parts' session records into the lines an operator reads, a tick at a time."""

    def __init__(
        self,
        *,
        interval_s: float = NOTICE_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval_s, self.clock = interval_s, clock
        self._told: dict[str, _Told] = {}

    def tell(self, parts: Mapping[str, SessionRecord]) -> list[str]:
        """Return the lines to say now about `parts` (``relay``, ``projector:<name>``)."""
        now = self.clock()
        lines = []
        for name, record in parts.items():
            told = self._told.setdefault(name, _Told())
            line = self._line(name, record, told, now)
            if line is not None:
                lines.append(line)
                told.restarts, told.is_up, told.at = record.restarts, record.is_up, now
        return lines

    def _line(self, name: str, record: SessionRecord, told: _Told, now: float) -> str | None:
        if record.is_up and not told.is_up:
            return f"{name}: working again after {_restarts(record.restarts - told.outage_from)}"
        unsaid = record.restarts - told.restarts
        if unsaid <= 0:
            return None
        if told.at is not None and now - told.at < self.interval_s:
            return None  # said something about this part lately: count, and say it later
        since = " since the last notice" if told.at is not None else ""
        if record.is_up:
            return (
                f"{name}: {_restarts(unsaid)}{since} (newest: {record.last_cause}, "
                f"{record.errors[-1]}); working again"
            )
        if told.is_up:
            told.outage_from = told.restarts
        more = f"; {_restarts(unsaid)}{since}" if told.at is not None else ""
        return (
            f"{name}: {_cause(record)} ({record.errors[-1]}); reconnecting, resuming from its "
            f"checkpoint{more}"
        )


def _cause(record: SessionRecord) -> str:
    if record.last_cause == NATS_LATE:
        return NATS_LATE
    return f"connection lost: {record.last_cause}"


def _restarts(count: int) -> str:
    return f"{count} session restart{'' if count == 1 else 's'}"
