"""The order state machine as a table: (status, trigger) -> next status (architecture, S2.6)."""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from types import MappingProxyType

from domain.errors import IllegalOrderTransitionError


class OrderStatus(Enum):
    """Where an order is in its life; the names are the architecture's."""

    NEW = "NEW"
    OPEN = "OPEN"
    PARTIAL = "PARTIAL"
    FILLED = "FILLED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def is_terminal(self) -> bool:
        """Return True when no trigger can move the order any more."""
        return self in TERMINAL_STATUSES

    @property
    def is_pending(self) -> bool:
        """Return True while the order can still fill or be cancelled (NEW, OPEN, PARTIAL)."""
        return not self.is_terminal


class OrderTrigger(Enum):
    """What happened to the order."""

    ACCEPT = "accept"
    FILL_PARTIALLY = "fill_partially"
    FILL_COMPLETELY = "fill_completely"
    CANCEL = "cancel"
    REJECT = "reject"


S, T = OrderStatus, OrderTrigger

TRANSITIONS: MappingProxyType[tuple[OrderStatus, OrderTrigger], OrderStatus] = MappingProxyType(
    {
        (S.NEW, T.ACCEPT): S.OPEN,
        # Rejected by risk or by the exchange, or the submission failed: it never rested.
        (S.NEW, T.REJECT): S.FAILED,
        (S.OPEN, T.FILL_PARTIALLY): S.PARTIAL,
        # One fill can complete an order that had none before (e.g. a market order).
        (S.OPEN, T.FILL_COMPLETELY): S.FILLED,
        (S.OPEN, T.CANCEL): S.CANCELLED,
        (S.PARTIAL, T.FILL_PARTIALLY): S.PARTIAL,
        (S.PARTIAL, T.FILL_COMPLETELY): S.FILLED,
        # A cancelled PARTIAL keeps its fills: they happened at the exchange and stay in the
        # position and the cash ledger; only the unfilled remainder is cancelled.
        (S.PARTIAL, T.CANCEL): S.CANCELLED,
    }
)

TERMINAL_STATUSES = frozenset({S.FILLED, S.FAILED, S.CANCELLED})

INITIAL_STATUS = S.NEW
"""The status of a placed order, before any trigger."""


def result_of_each_trigger(
    transitions: Mapping[tuple[OrderStatus, OrderTrigger], OrderStatus],
) -> MappingProxyType[OrderTrigger, OrderStatus]:
    """Return trigger -> the one status it leads to in `transitions`.

    Raises:
        ValueError: a trigger leads to different statuses from different ones.
    """
    results: dict[OrderTrigger, OrderStatus] = {}
    for (_, trigger), target in transitions.items():
        if results.setdefault(trigger, target) is not target:
            raise ValueError(
                f"trigger {trigger.value} leads to both {results[trigger].value} and "
                f"{target.value}: the status after an event would depend on the status before"
            )
    return MappingProxyType(results)


RESULT_OF_TRIGGER = result_of_each_trigger(TRANSITIONS)
"""Trigger -> the status it leads to, read off the table: whatever the status before, a trigger
leads to one status, so a read model that sees only the event knows the status after it."""


FILL_TRIGGERS = (T.FILL_PARTIALLY, T.FILL_COMPLETELY)


def require_can_fill(current: OrderStatus) -> None:
    """Refuse any fill of an order whose status the table lets no fill leave.

    Raises:
        IllegalOrderTransitionError: neither fill trigger is allowed in `current`.
    """
    if not any((current, trigger) in TRANSITIONS for trigger in FILL_TRIGGERS):
        raise IllegalOrderTransitionError(
            f"an order in status {current.value} cannot fill partially or fill completely; "
            + _allowed_from(current)
        )


def _allowed_from(current: OrderStatus) -> str:
    allowed = sorted(t.value for (s, t) in TRANSITIONS if s is current)
    if not allowed:
        return f"{current.value} is final"
    return f"allowed from {current.value}: {', '.join(allowed)}"


def next_status(current: OrderStatus, trigger: OrderTrigger) -> OrderStatus:
    """Return the status that `trigger` moves an order in `current` to.

    Raises:
        IllegalOrderTransitionError: the table has no such transition.
    """
    try:
        return TRANSITIONS[(current, trigger)]
    except KeyError:
        raise IllegalOrderTransitionError(
            f"an order in status {current.value} cannot {trigger.value.replace('_', ' ')}; "
            + _allowed_from(current)
        ) from None
