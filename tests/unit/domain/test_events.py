"""The event envelope: domain time in UTC and KST, actor, causation and correlation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from commands.trading import Trading
from domain.errors import InvalidDomainTimeError, MissingTextError
from domain.event_names import EVENT_CLASSES, bus_name
from domain.events import Cause, LedgerEvent
from domain.orders.order import Order
from domain.risk.limits import RiskLimits
from domain.strategies.run import StrategyRun
from tests.builders import (
    SEOUL_CAUSE,
    events_since,
    every_event_through_the_application,
    placed_order,
)


@pytest.fixture
def ledger_events(bare_trading: Trading) -> list[LedgerEvent]:
    every_event_through_the_application(bare_trading)
    events = events_since(bare_trading, 0)
    assert all(isinstance(event, LedgerEvent) for event in events)
    return [event for event in events if isinstance(event, LedgerEvent)]


def test_scenario_appends_every_event_class(ledger_events: list[LedgerEvent]) -> None:
    assert {type(event) for event in ledger_events} == set(EVENT_CLASSES)


def test_every_event_records_occurred_at_in_utc(ledger_events: list[LedgerEvent]) -> None:
    for event in ledger_events:
        assert event.occurred_at.utcoffset() == timedelta(0), bus_name(event)


def test_every_event_records_occurred_at_kst_as_the_same_instant_at_plus_nine(
    ledger_events: list[LedgerEvent],
) -> None:
    for event in ledger_events:
        assert event.occurred_at_kst.utcoffset() == timedelta(hours=9), bus_name(event)
        assert event.occurred_at_kst == event.occurred_at, bus_name(event)


def test_every_event_records_actor_causation_and_correlation(
    ledger_events: list[LedgerEvent],
) -> None:
    for event in ledger_events:
        # A reconciliation's halt names the reconciliation as its actor and its cause.
        assert event.actor in {"tester", "operator:kim", "reconciliation"}, bus_name(event)
        assert event.causation_id.startswith(("request-", "http-request-", "reconciliation:")), (
            bus_name(event)
        )
        assert event.correlation_id in {"flow-1", "day-2025-01-06"}, bus_name(event)


def test_library_timestamp_is_the_domain_time_not_the_wall_clock(
    ledger_events: list[LedgerEvent],
) -> None:
    for event in ledger_events:
        assert event.timestamp == event.occurred_at, bus_name(event)


def test_event_caused_in_kst_is_stored_in_utc_with_its_kst_copy(
    ledger_events: list[LedgerEvent],
) -> None:
    # Given the first command of the scenario was caused at 10:15 KST
    opened = ledger_events[0]

    # Then its first event holds 01:15 UTC, the KST copy, and the cause's ids
    assert bus_name(opened) == "ledger.portfolio.opened"
    assert opened.occurred_at == datetime(2025, 1, 6, 1, 15, tzinfo=UTC)
    assert opened.occurred_at.tzinfo is UTC
    assert opened.occurred_at_kst.isoformat() == "2025-01-06T10:15:00+09:00"
    assert (opened.actor, opened.causation_id, opened.correlation_id) == (
        "operator:kim",
        "http-request-7",
        "day-2025-01-06",
    )


def test_triggering_an_event_without_its_domain_time_is_refused() -> None:
    # Given an order
    order = placed_order()
    cause = SEOUL_CAUSE.event_fields()
    del cause["timestamp"]

    # When an event is triggered with every field but the domain time of the library
    with pytest.raises(InvalidDomainTimeError, match="without its domain time"):
        order.trigger_event(Order.Accepted, exchange_order_id="upbit-uuid-1", **cause)

    # Then no event exists
    assert order.collect_events() == []


def test_cause_with_naive_time_is_refused() -> None:
    with pytest.raises(InvalidDomainTimeError, match="occurred_at .* has no time zone"):
        Cause(datetime(2025, 1, 6), "tester", "request-1", "flow-1")  # noqa: DTZ001


@pytest.mark.parametrize("field", ["actor", "causation_id", "correlation_id"])
def test_cause_with_blank_text_is_refused_naming_the_field(field: str) -> None:
    values = {"actor": "tester", "causation_id": "request-1", "correlation_id": "flow-1"}
    values[field] = "  "

    with pytest.raises(MissingTextError, match=f"{field} '  ' must be a non-empty text"):
        Cause(datetime(2025, 1, 6, tzinfo=UTC), **values)


def test_cause_given_in_kst_holds_the_same_instant_in_utc() -> None:
    assert SEOUL_CAUSE.occurred_at == datetime(2025, 1, 6, 1, 15, tzinfo=UTC)
    assert SEOUL_CAUSE.occurred_at.utcoffset() == timedelta(0)


def test_schema_version_of_an_event_is_1_until_an_upcaster_is_added() -> None:
    versioned = {
        StrategyRun.Started: 3,  # v2 records the run's risk limits, v3 its submit-rate limit
        RiskLimits.LimitsSet: 2,  # v2 adds the submit-rate limit
    }
    for event_class in EVENT_CLASSES:
        version = versioned.get(event_class, 1)
        assert event_class.schema_version() == version, event_class
        for step in range(1, version):
            assert callable(getattr(event_class, f"upcast_v{step}_v{step + 1}", None))


@pytest.mark.parametrize("text", ["a\x00b", "line\rbreak", "bell\x07"])
def test_a_text_with_a_control_character_is_refused_naming_it(text: str) -> None:
    from domain.events import require_text

    with pytest.raises(MissingTextError, match="must not contain control characters"):
        require_text(text, "reason")
