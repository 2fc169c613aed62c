"""Upbit KRW tick sizes by effective date and rounding to the grid (upbit-api.md §7.1)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.errors import InvalidDomainTimeError, PriceOffTickError
from domain.ticks import (
    is_on_tick,
    require_on_tick,
    round_down_to_tick,
    round_up_to_tick,
    tick_size,
    tick_table_at,
)

D = Decimal

SINCE_2025 = datetime(2025, 8, 1, tzinfo=UTC)
SINCE_2024 = datetime(2025, 1, 6, tzinfo=UTC)
BEFORE_2024 = datetime(2023, 6, 1, tzinfo=UTC)
TIMES = {"since 2025-07-31": SINCE_2025, "2024-2025": SINCE_2024, "before 2024": BEFORE_2024}

# upbit-api.md §7.1, copied row by row: lower bound (inclusive), upper bound (exclusive), then
# the tick since 2025-07-31, from 2024-01-29 to 2025-07-30, and before 2024-01-29.
DOC_TABLE = [
    ("2000000", "1000000000", "1000", "1000", "1000"),
    ("1000000", "2000000", "1000", "500", "500"),
    ("500000", "1000000", "500", "100", "100"),
    ("100000", "500000", "100", "50", "50"),
    ("50000", "100000", "50", "10", "10"),
    ("10000", "50000", "10", "10", "10"),
    ("5000", "10000", "5", "1", "5"),
    ("1000", "5000", "1", "1", "5"),
    ("100", "1000", "1", "0.1", "1"),
    ("10", "100", "0.1", "0.01", "0.1"),
    ("1", "10", "0.01", "0.001", "0.01"),
    ("0.1", "1", "0.001", "0.0001", "0.001"),
]
CASES = [
    pytest.param(D(price), time, D(row[2 + column]), id=f"{label}-{price}")
    for row in DOC_TABLE
    for price in (row[0], str(D(row[1]) - D("0.00000001")))
    for column, (label, time) in enumerate(TIMES.items())
]


@pytest.mark.parametrize(("price", "when", "expected_tick"), CASES)
def test_tick_size_of_price_in_band_is_the_documented_tick(
    price: Decimal, when: datetime, expected_tick: Decimal
) -> None:
    assert tick_size(price, when) == expected_tick


@pytest.mark.parametrize("when", list(TIMES.values()), ids=list(TIMES))
@pytest.mark.parametrize("price", ["2000000", "50000000", "150000000"])
def test_krw_btc_tick_is_1000_krw_in_every_table(when: datetime, price: str) -> None:
    assert tick_size(D(price), when) == D(1000)


@pytest.mark.parametrize(
    ("when", "price", "expected_tick"),
    [
        (SINCE_2025, "0.05", "0.0001"),
        (SINCE_2025, "0.005", "0.00001"),
        (SINCE_2024, "0.05", "0.00001"),
        (SINCE_2024, "0.0005", "0.0000001"),
        (SINCE_2024, "0.000000005", "0.00000001"),
    ],
)
def test_tick_below_lowest_band_gets_one_decimal_finer_per_decade_down_to_1e_8(
    when: datetime, price: str, expected_tick: str
) -> None:
    assert tick_size(D(price), when) == D(expected_tick)


def test_tick_below_0_1_krw_before_2024_is_0_0001() -> None:
    assert tick_size(D("0.05"), BEFORE_2024) == D("0.0001")


def test_tick_table_changes_at_00_00_kst_on_2025_07_31() -> None:
    # Given the 1,000,000-2,000,000 band, whose tick went from 500 to 1,000 KRW
    last_old_instant = datetime(2025, 7, 30, 15, 0, tzinfo=UTC) - timedelta(microseconds=1)
    first_new_instant = datetime(2025, 7, 30, 15, 0, tzinfo=UTC)

    # Then 1,500,500 KRW is on the grid until 23:59:59.999999 KST and off it from 00:00 KST
    assert tick_table_at(last_old_instant).label == "2024-01-29 to 2025-07-30"
    assert is_on_tick(D("1500500"), last_old_instant)
    assert tick_table_at(first_new_instant).label == "since 2025-07-31"
    assert not is_on_tick(D("1500500"), first_new_instant)


def test_tick_table_changes_at_00_00_kst_on_2024_01_29() -> None:
    first_new_instant = datetime(2024, 1, 28, 15, 0, tzinfo=UTC)

    assert tick_size(D("5001"), first_new_instant - timedelta(microseconds=1)) == D(5)
    assert tick_size(D("5001"), first_new_instant) == D(1)


def test_tick_table_for_earliest_time_is_the_oldest_table() -> None:
    assert tick_table_at(datetime(1, 1, 2, tzinfo=UTC)).label == "before 2024-01-29"


def test_tick_size_at_naive_time_is_refused() -> None:
    with pytest.raises(InvalidDomainTimeError, match="has no time zone"):
        tick_size(D("50000000"), datetime(2025, 1, 6))  # noqa: DTZ001 - the refusal is the point


def test_price_off_tick_is_refused_naming_price_tick_band_and_nearest_prices() -> None:
    with pytest.raises(PriceOffTickError) as refused:
        require_on_tick(D("50000500"), SINCE_2024)

    message = str(refused.value)
    assert "limit price 50,000,500 KRW" in message
    assert "tick size 1,000 KRW" in message
    assert "from 2,000,000 KRW" in message
    assert "2024-01-29 to 2025-07-30" in message
    assert "50,000,000 and 50,001,000" in message


def test_price_on_tick_is_returned_unchanged() -> None:
    assert require_on_tick(D("50001000"), SINCE_2024) == D("50001000")


@pytest.mark.parametrize(
    ("price", "down", "up"),
    [
        ("50000500", "50000000", "50001000"),
        ("50001000", "50001000", "50001000"),
        ("1999999.5", "1999500", "2000000"),
        ("5000.5", "5000", "5001"),
    ],
)
def test_rounding_to_tick_goes_down_for_buys_and_up_for_sells(
    price: str, down: str, up: str
) -> None:
    assert round_down_to_tick(D(price), SINCE_2024) == D(down)
    assert round_up_to_tick(D(price), SINCE_2024) == D(up)


prices = st.decimals(
    min_value=D("0.00000001"),
    max_value=D("10000000000"),
    places=8,
    allow_nan=False,
    allow_infinity=False,
)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(price=prices, when=st.sampled_from(list(TIMES.values())))
def test_rounded_prices_bracket_the_price_on_the_grid_within_one_tick(
    price: Decimal, when: datetime
) -> None:
    down = round_down_to_tick(price, when)
    up = round_up_to_tick(price, when)

    assert down <= price <= up
    assert is_on_tick(down, when) or down == 0
    assert is_on_tick(up, when)
    assert up - down in (D(0), tick_size(price, when))
    assert is_on_tick(price, when) == (down == price)
