"""The first difference between recorded and replayed decisions, named field by field."""

from __future__ import annotations

from decimal import Decimal

from domain.replay_diff import Decision, first_difference


def fill(price: str, position: int | None = None, version: int = 3) -> Decision:
    fields = {"originator_id": "order-1", "originator_version": version}
    fields["price_krw"] = Decimal(price)
    return Decision.of("order.filled", fields, position)


def signal(tag: str, position: int | None = None) -> Decision:
    fields = {"originator_id": f"signal-{tag}", "originator_version": 1, "tag": tag}
    return Decision.of("strategy.signal.created", fields, position)


def test_equal_decisions_have_no_difference_whatever_their_positions() -> None:
    recorded = [signal("a", 10), fill("100", 12)]
    replayed = [signal("a"), fill("100")]
    assert first_difference(recorded, replayed) is None


def test_a_changed_field_is_named_with_both_values_and_the_recorded_position() -> None:
    recorded = [signal("a", 10), fill("100", 12)]
    replayed = [signal("a"), fill("101")]
    difference = first_difference(recorded, replayed)
    assert difference is not None
    assert difference.index == 1
    assert difference.fields == (("price_krw", "100", "101"),)
    text = difference.describe()
    assert "decision 2: order.filled of order-1 v3 at log position 12" in text
    assert 'price_krw: recorded "100", replayed "101"' in text


def test_a_decision_the_replay_did_not_make_is_named() -> None:
    difference = first_difference([signal("a", 10), signal("b", 11)], [signal("a")])
    assert difference is not None and difference.replayed is None
    assert "the log records strategy.signal.created of signal-b v1 at log position 11" in (
        difference.describe()
    )


def test_a_decision_the_log_does_not_record_is_named() -> None:
    difference = first_difference([signal("a", 10)], [signal("a"), signal("c")])
    assert difference is not None and difference.recorded is None
    assert "the replay decided strategy.signal.created of signal-c" in difference.describe()


def test_a_different_topic_at_the_same_place_is_a_difference() -> None:
    difference = first_difference([signal("a", 10)], [fill("100")])
    assert difference is not None and difference.index == 0
    assert ("topic", "strategy.signal.created", "order.filled") in difference.fields
