"""Copy a log's events into another, byte for byte (a backtest persisted into the event log)."""

from __future__ import annotations

from eventsourcing.persistence import IntegrityError, StoredEvent

from commands.chain_checkpoints import record_due_checkpoints
from commands.errors import DuplicateRunError
from commands.trading import Trading


def copy_events(target: Trading, source: Trading) -> int:
    """Append every event of `source` (an in-memory backtest) to `target`, atomically.

    The stored bytes are copied as they are, so the copy decodes to the same events and the
    same replay hash. Return how many events were copied.

    Raises:
        DuplicateRunError: an aggregate of the source is already in the target.
    """
    notifications = source.recorder.select_notifications(start=None, limit=10**9)
    stored = [
        StoredEvent(n.originator_id, n.originator_version, n.topic, n.state) for n in notifications
    ]
    if not stored:
        return 0
    try:
        target.recorder.insert_events(stored)
        record_due_checkpoints(target)
    except IntegrityError:
        raise DuplicateRunError(
            f"the events of account {source.account!r} are already in this log: a run is "
            "persisted once (change its inputs to record another run)"
        ) from None
    return len(stored)
