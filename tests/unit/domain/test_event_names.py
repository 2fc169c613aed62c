"""Bus names: every event class maps to exactly one `<context>.<entity>.<verb_past>` (S3.3)."""

from __future__ import annotations

import importlib
import pkgutil

import pytest
from eventsourcing.utils import get_topic, resolve_topic

import domain
from commands.trading import register_event_topics
from domain.event_names import (
    BUS_NAME_PATTERN,
    BUS_NAMES,
    EVENT_CLASS_BY_BUS_NAME,
    EVENT_CLASSES,
    bus_name,
)
from domain.events import LedgerEvent
from tests.builders import cause, placed_order


def import_every_domain_module() -> None:
    for module in pkgutil.walk_packages(domain.__path__, prefix="domain."):
        importlib.import_module(module.name)


def all_subclasses(cls: type) -> set[type]:
    found: set[type] = set()
    for subclass in cls.__subclasses__():
        found |= {subclass, *all_subclasses(subclass)}
    return found


def is_redefined_by_the_library(cls: type) -> bool:
    # The library's aggregate metaclass redefines each nested event class as a subclass of
    # itself and of the aggregate's own `Event`. The aggregate attribute (hence every event
    # triggered and every topic stored) is that redefinition, which inherits TOPIC; the class
    # written in the module body is left behind as its base.
    return any(sub.__qualname__ == cls.__qualname__ for sub in cls.__subclasses__())


def live_ledger_event_classes() -> set[type[LedgerEvent]]:
    import_every_domain_module()
    return {
        cls
        for cls in all_subclasses(LedgerEvent)
        if cls.__module__.startswith("domain.") and not is_redefined_by_the_library(cls)
    }


def event_classes_with_a_topic() -> set[type[LedgerEvent]]:
    return {cls for cls in live_ledger_event_classes() if getattr(cls, "TOPIC", None)}


# Written out from the architecture's "Events" list: the names it fixes must be used as is.
ARCHITECTURE_NAMES = {
    "order.placed",
    "order.accepted",
    "order.partially_filled",
    "order.filled",
    "order.cancelled",
    "order.rejected",
    "position.changed",
    "position.closed",
    "risk.limits.set",
    "risk.trading.halted",
    "risk.trading.resumed",
}


def test_bus_name_table_is_total_over_every_event_class_that_defines_a_topic() -> None:
    discovered = event_classes_with_a_topic()

    assert discovered == set(EVENT_CLASSES)
    assert set(BUS_NAMES) == discovered


def test_every_ledger_event_but_the_abstract_bases_has_a_topic() -> None:
    abstract = live_ledger_event_classes() - event_classes_with_a_topic()

    assert {cls.__qualname__ for cls in abstract} == {
        "LedgerCreated",
        "Order._FillEvent",
        "RiskLimits._StateChanged",
    }


def test_event_class_left_behind_by_the_library_has_the_topic_of_its_redefinition() -> None:
    import_every_domain_module()
    left_behind = [
        cls
        for cls in all_subclasses(LedgerEvent)
        if "TOPIC" in cls.__dict__ and is_redefined_by_the_library(cls)
    ]

    assert len(left_behind) == len(EVENT_CLASSES)
    for cls in left_behind:
        assert EVENT_CLASS_BY_BUS_NAME[cls.__dict__["TOPIC"]].__qualname__ == cls.__qualname__


def test_bus_names_have_no_duplicates() -> None:
    names = list(BUS_NAMES.values())

    assert len(names) == len(set(names)) == len(EVENT_CLASSES)
    assert len(EVENT_CLASSES) == len(set(EVENT_CLASSES))


@pytest.mark.parametrize("event_class", EVENT_CLASSES, ids=lambda c: c.__qualname__)
def test_bus_name_of_event_class_matches_the_pattern_and_is_its_stored_topic(
    event_class: type[LedgerEvent],
) -> None:
    name = BUS_NAMES[event_class]

    assert BUS_NAME_PATTERN.fullmatch(name)
    assert name == event_class.TOPIC  # type: ignore[attr-defined]
    assert get_topic(event_class) == name
    assert EVENT_CLASS_BY_BUS_NAME[name] is event_class


def test_architecture_event_names_are_all_used() -> None:
    assert set(BUS_NAMES.values()) >= ARCHITECTURE_NAMES


@pytest.mark.parametrize(
    "name", ["Order.Placed", "order", "order.placed.now.later", "order.Placed", "order-placed"]
)
def test_bus_name_pattern_refuses_names_not_of_the_dotted_lower_case_form(name: str) -> None:
    assert BUS_NAME_PATTERN.fullmatch(name) is None


def test_registered_topics_resolve_to_the_event_classes() -> None:
    register_event_topics()

    for name, event_class in EVENT_CLASS_BY_BUS_NAME.items():
        assert resolve_topic(name) is event_class


def test_bus_name_of_event_is_the_name_of_its_class() -> None:
    order = placed_order()
    order.accept("upbit-uuid-1", cause(2))

    (accepted,) = order.collect_events()

    assert isinstance(accepted, LedgerEvent)
    assert bus_name(accepted) == "order.accepted"
