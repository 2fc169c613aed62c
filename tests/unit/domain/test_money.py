"""Money and quantities: Decimal KRW and BTC figures, their validation and rounding."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.errors import InvalidAmountError
from domain.money import (
    floor8,
    fraction,
    non_negative_krw,
    positive_btc,
    positive_krw,
    to_decimal,
)

D = Decimal


@pytest.mark.parametrize("value", ["5000", 5000, D("5000"), D("5E+3"), "5000.00", "+5000"])
def test_to_decimal_of_decimal_string_int_or_decimal_is_the_decimal(value: object) -> None:
    assert to_decimal(value, "amount") == D(5000)


def test_to_decimal_writes_a_decimal_with_an_exponent_plainly() -> None:
    assert str(to_decimal(D("2E+7"), "limit price")) == "20000000"


@pytest.mark.parametrize("value", ["5E+3", "2e7", " 5000 ", "5_000", "0x10"])
def test_to_decimal_of_text_in_another_notation_is_refused_as_the_api_refuses_it(
    value: str,
) -> None:
    with pytest.raises(InvalidAmountError) as refused:
        to_decimal(value, "limit price")
    assert f"limit price {value!r} is not a decimal number written plainly" in str(refused.value)


@pytest.mark.parametrize(("value", "kind"), [(5000.0, "float"), (True, "bool")])
def test_to_decimal_of_float_or_bool_is_refused_asking_for_a_decimal_string(
    value: object, kind: str
) -> None:
    with pytest.raises(InvalidAmountError) as refused:
        to_decimal(value, "amount")

    assert f"amount {value!r} was given as a {kind}" in str(refused.value)
    assert "give it as a decimal string" in str(refused.value)


@pytest.mark.parametrize("value", ["abc", "", "1,000", None, object()])
def test_to_decimal_of_non_number_is_refused(value: object) -> None:
    with pytest.raises(InvalidAmountError, match="is not a decimal number"):
        to_decimal(value, "amount")


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "sNaN"])
def test_to_decimal_of_non_finite_number_is_refused(value: str) -> None:
    with pytest.raises(InvalidAmountError, match="is not a decimal number"):
        to_decimal(value, "amount")
    with pytest.raises(InvalidAmountError, match="is not a finite number"):
        to_decimal(D(value), "amount")


@pytest.mark.parametrize("value", ["0", "-1", "-0.00000001"])
def test_positive_krw_of_zero_or_negative_is_refused_naming_value(value: str) -> None:
    with pytest.raises(InvalidAmountError) as refused:
        positive_krw(value, "capital")

    assert f"capital {value} KRW must be greater than 0" in str(refused.value)


def test_positive_krw_keeps_a_28_digit_amount_exactly() -> None:
    # A strategy sizes A = available / (1 + fee rate) in the 28-digit context (clarification 3)
    amount = D("10000000") / D("1.0005")
    assert positive_krw(amount, "amount") == amount


def test_positive_krw_with_8_decimals_is_accepted() -> None:
    assert positive_krw("5000.00000001", "amount") == D("5000.00000001")


def test_non_negative_krw_accepts_zero_fee_and_refuses_negative() -> None:
    assert non_negative_krw("0", "fill fee") == 0
    with pytest.raises(InvalidAmountError, match="fill fee -1 KRW must not be negative"):
        non_negative_krw("-1", "fill fee")


@pytest.mark.parametrize("value", ["0.00000001", "0.01", "21000000"])
def test_positive_btc_of_whole_satoshis_is_accepted(value: str) -> None:
    assert positive_btc(value, "volume") == D(value)


def test_positive_btc_finer_than_a_satoshi_is_refused_naming_the_precision() -> None:
    with pytest.raises(InvalidAmountError) as refused:
        positive_btc("0.000000015", "volume")

    assert "volume 0.000000015 BTC is finer than 1E-8 BTC (8 decimal places)" in str(refused.value)


@pytest.mark.parametrize("value", ["0", "-0.01"])
def test_positive_btc_of_zero_or_negative_is_refused(value: str) -> None:
    with pytest.raises(InvalidAmountError, match=f"volume {value} BTC must be greater than 0"):
        positive_btc(value, "volume")


def test_positive_btc_of_absurdly_large_quantity_is_refused_as_invalid_amount() -> None:
    with pytest.raises(InvalidAmountError):
        positive_btc("1e21", "volume")


@pytest.mark.parametrize(
    ("quantity", "floored"),
    [
        ("0.123456789", "0.12345678"),
        ("0.000000019", "0.00000001"),
        ("0.000000009", "0.00000000"),
        ("1", "1.00000000"),
    ],
)
def test_floor8_rounds_btc_down_to_8_decimals(quantity: str, floored: str) -> None:
    assert floor8(D(quantity)) == D(floored)
    assert floor8(D(quantity)).as_tuple().exponent == -8


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(
    st.decimals(
        min_value=D(0), max_value=D("1000"), places=12, allow_nan=False, allow_infinity=False
    )
)
def test_floor8_never_rounds_up_and_loses_less_than_a_satoshi(quantity: Decimal) -> None:
    floored = floor8(quantity)

    assert floored <= quantity
    assert quantity - floored < D("0.00000001")


@pytest.mark.parametrize("value", ["0.2", "1", "0.00001"])
def test_fraction_in_zero_to_one_is_accepted(value: str) -> None:
    assert fraction(value, "max drawdown") == D(value)


@pytest.mark.parametrize("value", ["0", "1.01", "-0.2"])
def test_fraction_outside_zero_to_one_is_refused(value: str) -> None:
    with pytest.raises(InvalidAmountError, match=rf"max drawdown {value} must be a fraction"):
        fraction(value, "max drawdown")
