"""What the CQRS pipeline says about its sessions: real outages, rate-limited, with a cause."""

from __future__ import annotations

import psycopg

from adapters.nats.projector import ProjectorStats
from adapters.nats.session_notices import SessionNotices


class ManualClock:
    """Monotonic seconds that move only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _up() -> ProjectorStats:
    record = ProjectorStats()
    record.worked()
    return record


def test_a_part_that_flaps_is_told_at_most_once_per_interval_with_the_count_and_cause() -> None:
    # Given a projector that works, and notices at most every 30 s
    clock = ManualClock()
    notices = SessionNotices(interval_s=30.0, clock=clock)
    record = _up()
    parts = {"projector:timeline": record}
    assert notices.tell(parts) == []

    # When NATS refuses it 26 times in 20 s, each session working again for a moment
    lines: list[str] = []
    for _ in range(26):
        record.failed(ConnectionRefusedError(111, "Connect call failed"))
        lines += notices.tell(parts)
        record.worked()
        lines += notices.tell(parts)
        clock.now += 0.75

    # Then it said so once with the cause, and once that it works again
    assert lines == [
        "projector:timeline: connection lost: NATS out of reach (ConnectionRefusedError: "
        "[Errno 111] Connect call failed); reconnecting, resuming from its checkpoint",
        "projector:timeline: working again after 1 session restart",
    ]

    # And when the interval has passed, the next line counts what it did not say
    clock.now += 30.0
    record.failed(ConnectionRefusedError(111, "Connect call failed"))
    record.worked()
    assert notices.tell(parts) == [
        "projector:timeline: 26 session restarts since the last notice (newest: NATS out of "
        "reach, ConnectionRefusedError: [Errno 111] Connect call failed); working again"
    ]


def test_a_late_nats_reply_and_a_lost_database_are_named_as_such() -> None:
    # Given a relay and a projector that work
    clock = ManualClock()
    notices = SessionNotices(interval_s=30.0, clock=clock)
    relay, projector = _up(), _up()
    parts = {"relay": relay, "projector:orders": projector}
    notices.tell(parts)

    # When NATS answers the relay late and the projector's database goes away
    relay.failed(TimeoutError("nats: timeout"))
    projector.failed(psycopg.OperationalError("connection refused"))

    # Then each line names its cause
    assert notices.tell(parts) == [
        "relay: NATS did not answer in time (TimeoutError: nats: timeout); reconnecting, "
        "resuming from its checkpoint",
        "projector:orders: connection lost: the database out of reach (OperationalError: "
        "connection refused); reconnecting, resuming from its checkpoint",
    ]
    # And only the database is a real disconnect; the late reply is counted apart
    assert (relay.restarts, relay.reconnects, relay.timeouts) == (1, 0, 1)
    assert (projector.restarts, projector.reconnects, projector.timeouts) == (1, 1, 0)


def test_a_part_that_has_not_worked_yet_is_not_told_about() -> None:
    notices = SessionNotices(clock=ManualClock())
    assert notices.tell({"relay": ProjectorStats()}) == []
