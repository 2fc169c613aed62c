"""The status an order event leaves an order in, read off the status table (for read models)."""

from __future__ import annotations

from types import MappingProxyType

from domain.events import LedgerEvent
from domain.orders.order import Order
from domain.orders.status import INITIAL_STATUS, RESULT_OF_TRIGGER, OrderStatus, OrderTrigger

TRIGGER_OF_EVENT: MappingProxyType[type[LedgerEvent], OrderTrigger] = MappingProxyType(
    {
        event_class: event_class.TRIGGER
        for event_class in (
            Order.Accepted,
            Order.PartiallyFilled,
            Order.Filled,
            Order.Cancelled,
            Order.Rejected,
        )
    }
)
"""The order events that move an order through the status table, and their triggers (a failed
sending moves nothing: the order stays NEW)."""


def status_after(event: LedgerEvent) -> OrderStatus | None:
    """Return the status an order is in after `event` (None: the event sets no status).

    A read model sees only the event; the table leads each trigger to one status, so this is
    the status `apply` set.
    """
    if isinstance(event, Order.Placed):
        return INITIAL_STATUS
    trigger = TRIGGER_OF_EVENT.get(type(event))
    return None if trigger is None else RESULT_OF_TRIGGER[trigger]
