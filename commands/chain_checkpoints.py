"""The audit chain's checkpoints, recorded in the log when a save takes the chain past one.

The PostgreSQL recorder keeps the chain (`adapters/postgres/recorder.py`) and hands over the
heads a save took past a multiple of its interval; each is recorded as
`audit.chain.checkpointed`. An in-memory log has no chain and nothing to record.
"""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import IntegrityError

from domain.audit.checkpoint import ChainCheckpoint, ChainHead, checkpoint_cause


def record_due_checkpoints(log: Application[UUID]) -> None:
    """Record the audit chain's checkpoints a write to `log` made due."""
    take: Callable[[], list[ChainHead]] | None = getattr(log.recorder, "take_due_checkpoints", None)
    if take is None:
        return
    while due := take():
        for head in due:
            checkpoint = ChainCheckpoint.record(head, checkpoint_cause(head))
            try:
                Application.save(log, checkpoint)  # as recorded, never held by a unit of work
            except IntegrityError:
                continue  # this checkpoint is in the log already
