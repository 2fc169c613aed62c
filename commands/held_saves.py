"""Two parts of the ledger's save: the saves a unit of work holds, and snapshots from memory.

`HeldSaves`: what `Trading.holding_saves` holds until the caller saves it, in the order made.
`take_crossed_snapshots`: after a save, each aggregate the save took past a multiple of its
snapshot interval is snapshotted from memory (the library would re-read it from the log for
every multiple crossed: ten times for a batch of 500 orders).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol, Snapshot
from eventsourcing.persistence import EventStore


class HeldSaves:
    """The saves held by `Trading.holding_saves`: events in order, aggregates as changed."""

    def __init__(self) -> None:
        self.events: list[DomainEventProtocol[UUID]] = []
        self.aggregates: dict[UUID, Any] = {}

    def hold(self, objs: Sequence[Any]) -> None:
        """Take the new events of these aggregates (or these events), in order."""
        for obj in objs:
            if obj is None:
                continue
            if isinstance(obj, DomainEventProtocol):
                self.events.append(obj)
            else:
                self.events.extend(obj.collect_events())
                self.aggregates[obj.id] = obj


def take_crossed_snapshots(
    snapshots: EventStore[UUID] | None,
    intervals: Mapping[type, int],
    events: Sequence[DomainEventProtocol[UUID]],
    aggregates: Mapping[UUID, Any],
) -> None:
    """Snapshot each saved aggregate once, from memory, when the save crossed its interval."""
    if snapshots is None:
        return
    saved: dict[UUID, int] = {}
    for event in events:
        saved[event.originator_id] = saved.get(event.originator_id, 0) + 1
    for aggregate_id, aggregate in aggregates.items():
        interval = intervals.get(type(aggregate))
        count = saved.get(aggregate_id, 0)
        if not interval or not count:
            continue
        if aggregate.version // interval > (aggregate.version - count) // interval:
            snapshots.put([Snapshot.take(aggregate)])
