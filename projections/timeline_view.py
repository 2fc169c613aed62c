"""The event timeline: every event's envelope, to follow one flow by its correlation id.

From a fill back to the order, the signal and the candle that caused it: the API joins these
rows (`rm_event_timeline`) with the log's payloads.
"""

from __future__ import annotations

from typing import ClassVar

from domain.event_names import bus_name
from domain.events import LedgerEvent
from projections.projection import Projection
from projections.rows import Insert, RowOp


class EventTimelineProjection(Projection):
    """One row per event, keyed by log position."""

    name: ClassVar[str] = "timeline"
    tables: ClassVar[tuple[str, ...]] = ("rm_event_timeline",)

    def rows(self, event: LedgerEvent, position: int) -> list[RowOp]:
        """Record the event's envelope."""
        return [
            Insert(
                "rm_event_timeline",
                {
                    "position": position,
                    "bus_name": bus_name(event),
                    "originator_id": event.originator_id,
                    "originator_version": event.originator_version,
                    "occurred_at": event.occurred_at,
                    "actor": event.actor,
                    "causation_id": event.causation_id,
                    "correlation_id": event.correlation_id,
                },
            )
        ]
