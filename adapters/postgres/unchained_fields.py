"""The fields a format-2 chain left out, checked against what the chain did bind.

Links made before issue 17 (chain format 2) leave out the library's `timestamp` and a created
event's `originator_topic`, and both decide what loading produces (an aggregate's
`created_on`/`modified_on`; the class an aggregate is loaded as). For such an event
`ledger audit verify` checks them against what its link does bind: the timestamp must be the
chained `occurred_at` (the ledger sets it so, `domain/events.py`), and the class the stored
topic resolves to must be the one whose nested event the chained bus name is (a class moved
with its old topic registered still resolves to it). Only topics in `domain` are resolved: a
stored string never makes verify import a module outside the ledger's domain.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.domain import CanInitAggregate
from eventsourcing.utils import TopicError, resolve_topic

from domain.event_names import EVENT_CLASS_BY_BUS_NAME

DOMAIN_PACKAGE = "domain."


def unchained_edit(topic: str, fields: dict[str, Any]) -> str | None:
    """Return how the left-out fields of a format-2 event contradict its chained ones, or None.

    `fields` is the event's body with every stored field (chain format 3).
    """
    timestamp, occurred_at = fields.get("timestamp"), fields.get("occurred_at")
    if timestamp != occurred_at:
        return (
            f"its library timestamp {timestamp!r} is not its chained occurred_at "
            f"{occurred_at!r} (the timestamp, left out of a format-2 link, was edited)"
        )
    event_class = EVENT_CLASS_BY_BUS_NAME.get(topic)
    if event_class is None or not issubclass(event_class, CanInitAggregate):
        return None
    stored = fields.get("originator_topic")
    aggregate_class = None
    if isinstance(stored, str) and stored.startswith(DOMAIN_PACKAGE):
        try:
            aggregate_class = resolve_topic(stored)
        except (TopicError, ValueError):
            aggregate_class = None
    if getattr(aggregate_class, event_class.__name__, None) is not event_class:
        return (
            f"its originator_topic {stored!r} does not name the aggregate class of a "
            f"{topic} event (the class, left out of a format-2 link, was edited)"
        )
    return None
