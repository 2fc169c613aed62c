"""Which events an audit bundle carries in full: bounds by position, trading day or instant."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.audit.selection import BundleSelection, parse_bound
from domain.errors import InvalidExportSelectionError


def test_a_number_is_a_log_position() -> None:
    assert parse_bound("1200", is_end=False) == 1200


def test_a_date_is_its_trading_day_from_09_00_kst_through_the_next_09_00() -> None:
    assert parse_bound("2026-03-02", is_end=False) == datetime(2026, 3, 2, tzinfo=UTC)
    assert parse_bound("2026-03-02", is_end=True) == datetime(2026, 3, 3, tzinfo=UTC)


def test_an_instant_keeps_its_offset_and_is_held_in_utc() -> None:
    assert parse_bound("2026-03-02T09:30:00+09:00", is_end=False) == datetime(
        2026, 3, 2, 0, 30, tzinfo=UTC
    )
    assert parse_bound("2026-03-02T00:30:00Z", is_end=True) == datetime(
        2026, 3, 2, 0, 30, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("0", "1 or more"),
        ("yesterday", "ISO 8601"),
        ("2026-03-02T09:30:00", "has no offset"),
        ("2026-02-30", "ISO 8601"),
    ],
)
def test_a_malformed_bound_is_refused_naming_it_and_the_rule(text: str, rule: str) -> None:
    with pytest.raises(InvalidExportSelectionError, match=rule) as refused:
        parse_bound(text, is_end=False)

    assert repr(text) in str(refused.value)


def test_a_reversed_or_empty_range_and_a_blank_filter_are_refused() -> None:
    day = datetime(2026, 3, 2, tzinfo=UTC)
    with pytest.raises(InvalidExportSelectionError, match="position 9.*position 3"):
        BundleSelection.of(9, 3)
    with pytest.raises(InvalidExportSelectionError, match="holds no time"):
        BundleSelection.of(day, day)
    with pytest.raises(InvalidExportSelectionError, match="market filter"):
        BundleSelection.of(market=" ")


def test_positions_bound_inclusively() -> None:
    selection = BundleSelection.of(5, 7)

    assert [p for p in range(1, 10) if selection.holds_position(p)] == [5, 6, 7]
    assert not selection.needs_fields


def test_a_time_range_holds_its_start_and_not_its_end() -> None:
    selection = BundleSelection.of(
        datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 3, tzinfo=UTC)
    )

    def at(text: str) -> bool:
        return selection.selects({"occurred_at": text}, None)

    assert at("2026-03-02T00:00:00+00:00")
    assert at("2026-03-02T23:59:59+00:00")
    assert not at("2026-03-03T00:00:00+00:00")
    assert not at("2026-03-01T23:59:59+00:00")


def test_a_strategy_filter_keeps_its_own_events_the_account_wide_ones_and_its_orders_fills() -> (
    None
):
    selection = BundleSelection.of(strategy="grid")
    grid_order = {"strategy_id": "grid", "market": "KRW-BTC"}
    vb_order = {"strategy_id": "vb", "market": "KRW-BTC"}

    assert selection.selects(grid_order, grid_order)
    assert not selection.selects(vb_order, vb_order)
    assert selection.selects({"trade_id": "t-1"}, grid_order)
    assert not selection.selects({"trade_id": "t-2"}, vb_order)
    assert selection.selects({"reason": "halt"}, None)
    assert selection.selects({"strategies": {"grid": {}, "vb": {}}}, None)
    assert not selection.selects({"strategies": {"vb": {}}}, None)


def test_a_market_filter_leaves_out_other_markets() -> None:
    selection = BundleSelection.of(market="KRW-BTC")

    assert selection.selects({"market": "KRW-BTC"}, None)
    assert not selection.selects({"market": "KRW-ETH"}, None)
    assert not selection.selects({"trade_id": "t"}, {"market": "KRW-ETH"})


def test_a_selection_parsed_from_option_texts_takes_each_bound_by_its_kind() -> None:
    # When --from is a position and --to a date, with a market filter
    selection = BundleSelection.parse("5", "2026-03-02", " KRW-BTC ")
    # Then the start is a position, the end the close of that trading day, the market trimmed
    assert selection == BundleSelection(
        from_position=5, to_time=datetime(2026, 3, 3, tzinfo=UTC), market="KRW-BTC"
    )
    # And a reversed pair of texts is refused as the range it makes
    with pytest.raises(InvalidExportSelectionError, match="is after its end"):
        BundleSelection.parse("12", "5")
