"""The ChainCheckpoint aggregate: the chain's head recorded in the log it chains.

`audit.chain.checkpointed` names the head (position, link and count of the newest chained
event) every so many events. It is itself an event of the log, so it is chained too: rewriting
the events before it means rewriting it as well. Each checkpoint is its own aggregate, with an
id derived from its count, so recording the same checkpoint twice is refused by the log.
Its fields are `head_*`: the canonical JSON's `position` is the checkpoint event's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.events import Cause, LedgerCreated, create_aggregate
from domain.ids import derive_id

CHECKPOINT_ACTOR = "audit-chain"


@dataclass(frozen=True)
class ChainHead:
    """The newest chained event: its log position, its link, how many events the chain holds."""

    position: int
    link: str
    count: int
    occurred_at: datetime | None = None
    """The newest chained event's domain time (a checkpoint's own domain time)."""


class ChainCheckpoint(Aggregate):
    """One recorded head of the audit chain."""

    class Checkpointed(LedgerCreated):
        """The audit chain's head was recorded in the log."""

        TOPIC = "audit.chain.checkpointed"
        head_position: int
        head_link: str
        head_count: int

        def apply(self, checkpoint: ChainCheckpoint) -> None:
            """Evolve the checkpoint's state by this event."""
            checkpoint.head = ChainHead(self.head_position, self.head_link, self.head_count)

    head: ChainHead

    def __init__(self) -> None:
        """State is set by the Checkpointed event; see `record`."""

    @classmethod
    def record(cls, head: ChainHead, cause: Cause) -> ChainCheckpoint:
        """Record the chain's head as it was after `head.count` events."""
        return create_aggregate(
            cls,
            cls.Checkpointed,
            id=checkpoint_id(head.count),
            head_position=head.position,
            head_link=head.link,
            head_count=head.count,
            **cause.event_fields(),
        )


def checkpoint_id(count: int) -> UUID:
    """Return the id of the checkpoint of the chain's head after `count` events."""
    return derive_id("audit-chain-checkpoint", str(count))


def checkpoint_cause(head: ChainHead) -> Cause:
    """Return the Cause of a checkpoint: at the head event's domain time, caused by it."""
    assert head.occurred_at is not None
    return Cause(head.occurred_at, CHECKPOINT_ACTOR, f"log:{head.position}", CHECKPOINT_ACTOR)
