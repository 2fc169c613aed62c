"""The order state machine, parametrised over every (status, trigger) pair (style S2.6, S5.6).

First the table itself, then the same pairs through the Trading application: an allowed pair
appends exactly its events; a refused pair raises IllegalOrderTransitionError and appends
nothing.
"""

from __future__ import annotations

from decimal import Decimal
from itertools import product
from uuid import UUID

import pytest

from commands.trading import Trading
from domain.errors import IllegalOrderTransitionError
from domain.events import LedgerEvent
from domain.orders.status import (
    RESULT_OF_TRIGGER,
    TERMINAL_STATUSES,
    TRANSITIONS,
    OrderStatus,
    OrderTrigger,
    next_status,
    result_of_each_trigger,
)
from domain.orders.status_after import status_after
from tests.builders import (
    accept_order,
    bus_names_since,
    cancel_order,
    events_since,
    last_notification_id,
    place_limit_bid,
    record_fill,
    reject_order,
)

S, T = OrderStatus, OrderTrigger

# Written out from the architecture's "Order state machine", independently of the code's table.
ARCHITECTURE_TRANSITIONS = {
    (S.NEW, T.ACCEPT): S.OPEN,
    (S.NEW, T.REJECT): S.FAILED,
    (S.OPEN, T.FILL_PARTIALLY): S.PARTIAL,
    (S.OPEN, T.FILL_COMPLETELY): S.FILLED,
    (S.OPEN, T.CANCEL): S.CANCELLED,
    (S.PARTIAL, T.FILL_PARTIALLY): S.PARTIAL,
    (S.PARTIAL, T.FILL_COMPLETELY): S.FILLED,
    (S.PARTIAL, T.CANCEL): S.CANCELLED,
}

ALL_PAIRS = list(product(OrderStatus, OrderTrigger))
ALLOWED_PAIRS = [pair for pair in ALL_PAIRS if pair in ARCHITECTURE_TRANSITIONS]
REFUSED_PAIRS = [pair for pair in ALL_PAIRS if pair not in ARCHITECTURE_TRANSITIONS]


def pair_id(pair: tuple[OrderStatus, OrderTrigger]) -> str:
    return f"{pair[0].value}-{pair[1].value}"


# The table.
def test_transition_table_is_exactly_the_architecture_state_machine() -> None:
    assert dict(TRANSITIONS) == ARCHITECTURE_TRANSITIONS


def test_order_statuses_are_the_six_architecture_names() -> None:
    assert [s.name for s in OrderStatus] == [
        "NEW",
        "OPEN",
        "PARTIAL",
        "FILLED",
        "FAILED",
        "CANCELLED",
    ]


@pytest.mark.parametrize("pair", ALLOWED_PAIRS, ids=pair_id)
def test_next_status_of_a_listed_pair_is_its_table_entry(
    pair: tuple[OrderStatus, OrderTrigger],
) -> None:
    status, trigger = pair

    assert next_status(status, trigger) is ARCHITECTURE_TRANSITIONS[pair]


@pytest.mark.parametrize("pair", REFUSED_PAIRS, ids=pair_id)
def test_next_status_of_an_unlisted_pair_raises_naming_status_and_trigger(
    pair: tuple[OrderStatus, OrderTrigger],
) -> None:
    status, trigger = pair

    with pytest.raises(IllegalOrderTransitionError) as refused:
        next_status(status, trigger)

    message = str(refused.value)
    assert f"in status {status.value}" in message
    assert f"cannot {trigger.value.replace('_', ' ')}" in message


@pytest.mark.parametrize("status", sorted(TERMINAL_STATUSES, key=lambda s: s.value))
def test_terminal_status_has_no_outgoing_transition_and_says_it_is_final(
    status: OrderStatus,
) -> None:
    assert status.is_terminal and not status.is_pending
    assert not [pair for pair in TRANSITIONS if pair[0] is status]
    with pytest.raises(IllegalOrderTransitionError, match=f"{status.value} is final"):
        next_status(status, T.ACCEPT)


def test_terminal_statuses_are_filled_failed_and_cancelled() -> None:
    assert {S.FILLED, S.FAILED, S.CANCELLED} == TERMINAL_STATUSES
    assert {s for s in OrderStatus if s.is_pending} == {S.NEW, S.OPEN, S.PARTIAL}


def test_refusal_from_open_lists_the_triggers_allowed_there() -> None:
    with pytest.raises(IllegalOrderTransitionError) as refused:
        next_status(S.OPEN, T.REJECT)

    assert "allowed from OPEN: cancel, fill_completely, fill_partially" in str(refused.value)


# The same pairs through the Trading application.
# A limit bid of 0.01 BTC at 50,000,000 KRW; PARTIAL has 0.004 BTC executed.
VOLUME = Decimal("0.01")
FIRST_FILL = Decimal("0.004")

FILL_EVENTS_FIRST = ["position.opened", "position.changed", "ledger.fill.settled"]
FILL_EVENTS_LATER = ["position.changed", "ledger.fill.settled"]
EXPECTED_EVENTS = {
    (S.NEW, T.ACCEPT): ["order.accepted"],
    (S.NEW, T.REJECT): ["order.rejected", "ledger.reservation.released"],
    (S.OPEN, T.FILL_PARTIALLY): ["order.partially_filled", *FILL_EVENTS_FIRST],
    (S.OPEN, T.FILL_COMPLETELY): ["order.filled", *FILL_EVENTS_FIRST],
    (S.OPEN, T.CANCEL): ["order.cancelled", "ledger.reservation.released"],
    (S.PARTIAL, T.FILL_PARTIALLY): ["order.partially_filled", *FILL_EVENTS_LATER],
    (S.PARTIAL, T.FILL_COMPLETELY): ["order.filled", *FILL_EVENTS_LATER],
    (S.PARTIAL, T.CANCEL): ["order.cancelled", "ledger.reservation.released"],
}


def order_in(app: Trading, status: OrderStatus) -> UUID:
    """Drive a fresh limit bid to `status` through the application's commands."""
    order_id = app.place_order(place_limit_bid())
    if status is S.FAILED:
        app.reject_order(reject_order(order_id))
    if status in (S.NEW, S.FAILED):
        return order_id
    app.accept_order(accept_order(order_id))
    if status is S.PARTIAL:
        app.record_fill(record_fill(order_id, qty_btc=FIRST_FILL))
    elif status is S.FILLED:
        app.record_fill(record_fill(order_id, qty_btc=VOLUME))
    elif status is S.CANCELLED:
        app.cancel_order(cancel_order(order_id))
    assert app.get_order(order_id).status is status
    return order_id


def run_trigger(app: Trading, order_id: UUID, trigger: OrderTrigger) -> None:
    order = app.get_order(order_id)
    remaining = VOLUME - order.executed_volume_btc
    if trigger is T.ACCEPT:
        app.accept_order(accept_order(order_id, exchange_order_id="upbit-uuid-2", minute=10))
    elif trigger is T.FILL_PARTIALLY:
        app.record_fill(record_fill(order_id, trade_id="trade-9", qty_btc="0.001", minute=10))
    elif trigger is T.FILL_COMPLETELY:
        qty = remaining if remaining > 0 else Decimal("0.001")
        app.record_fill(record_fill(order_id, trade_id="trade-9", qty_btc=qty, minute=10))
    elif trigger is T.CANCEL:
        app.cancel_order(cancel_order(order_id, minute=10))
    else:
        app.reject_order(reject_order(order_id, minute=10))


def test_expected_events_cover_exactly_the_allowed_pairs() -> None:
    assert set(EXPECTED_EVENTS) == set(TRANSITIONS)


@pytest.mark.parametrize("pair", ALLOWED_PAIRS, ids=pair_id)
def test_order_command_allowed_in_status_appends_exactly_its_events(
    trading: Trading, pair: tuple[OrderStatus, OrderTrigger]
) -> None:
    # Given an order in the status
    status, trigger = pair
    order_id = order_in(trading, status)
    before = last_notification_id(trading)
    version_before = trading.get_order(order_id).version

    # When the command of the trigger runs
    run_trigger(trading, order_id, trigger)

    # Then exactly the expected events are appended, and the order moved to its next status
    assert bus_names_since(trading, before) == EXPECTED_EVENTS[pair]
    order = trading.get_order(order_id)
    assert order.status is ARCHITECTURE_TRANSITIONS[pair]
    assert order.version == version_before + 1
    # which is also what a read model, seeing only the event, reads off the table
    (event,) = [e for e in events_since(trading, before) if e.originator_id == order_id]
    assert isinstance(event, LedgerEvent)
    assert status_after(event) is order.status


def refused_param(pair: tuple[OrderStatus, OrderTrigger]) -> object:
    return pytest.param(pair, id=pair_id(pair))


@pytest.mark.parametrize("pair", [refused_param(pair) for pair in REFUSED_PAIRS])
def test_order_command_refused_in_status_raises_illegal_transition_and_appends_nothing(
    trading: Trading, pair: tuple[OrderStatus, OrderTrigger]
) -> None:
    # Given an order in the status
    status, trigger = pair
    order_id = order_in(trading, status)
    before = last_notification_id(trading)
    described_before = trading.get_order(order_id).describe()

    # When the command of the trigger runs, then it is refused naming status and trigger
    with pytest.raises(IllegalOrderTransitionError) as refused:
        run_trigger(trading, order_id, trigger)
    assert status.value in str(refused.value)
    assert trigger.value.replace("_", " ") in str(refused.value)

    # And nothing was appended: the log and the order are as they were
    assert last_notification_id(trading) == before
    assert trading.get_order(order_id).describe() == described_before


def test_each_trigger_leads_to_one_status_whatever_the_status_before() -> None:
    assert dict(RESULT_OF_TRIGGER) == {
        T.ACCEPT: S.OPEN,
        T.FILL_PARTIALLY: S.PARTIAL,
        T.FILL_COMPLETELY: S.FILLED,
        T.CANCEL: S.CANCELLED,
        T.REJECT: S.FAILED,
    }


def test_a_table_whose_trigger_leads_to_two_statuses_is_refused_naming_both() -> None:
    ambiguous = {**TRANSITIONS, (S.PARTIAL, T.REJECT): S.CANCELLED}

    with pytest.raises(ValueError, match="trigger reject leads to both FAILED and CANCELLED"):
        result_of_each_trigger(ambiguous)


def test_loading_an_event_the_table_refuses_in_the_status_before_raises_naming_both(
    trading: Trading,
) -> None:
    # Given an OPEN order, and a second acceptance event forged for it (the log holds only
    # legal transitions: every command asks the table first)
    order_id = order_in(trading, S.OPEN)
    order = trading.get_order(order_id)
    accepted = next(e for e in events_since(trading, 0) if type(e) is type(order).Accepted)

    # When it is applied, the status comes from the table, which has no OPEN + accept
    with pytest.raises(IllegalOrderTransitionError, match="status OPEN cannot accept"):
        accepted.apply(order)
