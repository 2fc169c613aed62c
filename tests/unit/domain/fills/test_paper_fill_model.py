"""The paper fill model, with hand-computed figures (strategies.md "Paper fill model")."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from domain.candles.candle import Candle
from domain.fills.paper_fill_model import FillModel

T = datetime(2023, 1, 2, 0, 1, tzinfo=UTC)


def candle(o: str, h: str, lo: str, c: str, v: str = "10") -> Candle:
    return Candle(T, D(o), D(h), D(lo), D(c), D(v))


def test_market_buy_fills_at_the_open_with_slippage_rounding_quantity_down() -> None:
    model = FillModel(fee_rate=D("0.0005"), slippage_bps=D(10))
    fill = model.market_buy(D("1000000"), candle("30000000", "30100000", "29900000", "30050000"))
    # p = 30,000,000 x (1 + 10/10000) = 30,030,000; q = floor8(1,000,000 / p)
    assert fill is not None
    assert fill.price == D("30030000.0")
    assert fill.qty == D("0.03330003")
    assert fill.fee == D("0.03330003") * D("30030000.0") * D("0.0005")
    assert fill.is_complete


def test_market_sell_fills_at_the_open_less_slippage() -> None:
    model = FillModel(slippage_bps=D(10))
    fill = model.market_sell(D("0.5"), candle("30000000", "30100000", "29900000", "30050000"))
    assert fill is not None and fill.price == D("29970000.0") and fill.qty == D("0.5")


@pytest.mark.parametrize(
    ("limit", "o", "low", "expected"),
    [
        ("29950000", "30000000", "29900000", "29950000"),  # touched: at the limit
        ("30050000", "30000000", "29900000", "30000000"),
    ],  # opened below the limit: at the open
)
def test_limit_buy_fills_when_low_touches_at_the_better_price(
    limit: str, o: str, low: str, expected: str
) -> None:
    fill = FillModel().limit_buy(D(limit), D("0.1"), candle(o, "30100000", low, o))
    assert fill is not None and fill.price == D(expected) and fill.is_complete


def test_limit_buy_does_not_fill_when_low_stays_above_the_limit() -> None:
    assert (
        FillModel().limit_buy(
            D("29899000"), D("0.1"), candle("30000000", "30100000", "29900000", "30000000")
        )
        is None
    )


def test_limit_sell_fills_when_high_touches_at_max_of_limit_and_open() -> None:
    model = FillModel()
    c = candle("30000000", "30100000", "29900000", "30000000")
    touched = model.limit_sell(D("30100000"), D("0.1"), c)
    gapped = model.limit_sell(D("29000000"), D("0.1"), c)
    assert touched is not None and touched.price == D("30100000")
    assert gapped is not None and gapped.price == D("30000000")
    assert model.limit_sell(D("30100001"), D("0.1"), c) is None


def test_participation_caps_each_fill_and_leaves_the_rest_open() -> None:
    # Given 10 % participation and a candle of 0.12345678 BTC volume
    model = FillModel(max_participation=D("0.1"))
    c = candle("30000000", "30100000", "29900000", "30000000", v="0.12345678")
    fill = model.limit_buy(D("30000000"), D("0.05"), c)
    # Then at most floor8(0.1 x 0.12345678) = 0.01234567 fills, and the order is not complete
    assert fill is not None and fill.qty == D("0.01234567") and not fill.is_complete


def test_participation_on_a_synthetic_candle_fills_nothing() -> None:
    model = FillModel(max_participation=D("0.5"))
    flat = Candle(T, D(100), D(100), D(100), D(100), D(0), is_synthetic=True)
    assert model.market_sell(D("0.1"), flat) is None


@pytest.mark.parametrize(
    "kwargs", [{"fee_rate": D("-0.001")}, {"slippage_bps": D(-1)}, {"max_participation": D(0)}]
)
def test_fill_model_refuses_negative_fee_slippage_or_zero_participation(kwargs: dict) -> None:  # type: ignore[type-arg]
    with pytest.raises(ValueError, match="must"):
        FillModel(**kwargs)
