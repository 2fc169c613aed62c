"""Recorded Upbit responses parse without loss; malformed payloads are refused by name."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from adapters.upbit.errors import UpbitMalformedPayloadError
from adapters.upbit.parsing import (
    loads,
    parse_accounts,
    parse_candle,
    parse_candles,
    parse_chance,
    parse_order,
)
from tests.unit.adapters.upbit.samples import recorded

CANDLE_FILES = ["candles_minutes.json", "candles_days.json", "candles_seconds.json"]


@pytest.mark.parametrize("name", CANDLE_FILES)
def test_recorded_candles_parse_with_every_field_the_product_uses_exact(name: str) -> None:
    responses = list(recorded(name))
    assert responses
    for response in responses:
        candles = parse_candles(response["body"])
        for raw, candle in zip(
            sorted(response["body"], key=lambda r: r["candle_date_time_utc"]), candles, strict=True
        ):
            assert candle.open_time == datetime.fromisoformat(raw["candle_date_time_utc"]).replace(
                tzinfo=UTC
            )
            assert (candle.open, candle.high, candle.low, candle.close) == (
                raw["opening_price"],
                raw["high_price"],
                raw["low_price"],
                raw["trade_price"],
            )
            assert (candle.volume, candle.value) == (
                raw["candle_acc_trade_volume"],
                raw["candle_acc_trade_price"],
            )
            assert isinstance(candle.close, D)


def test_a_recorded_minute_candle_reads_as_written() -> None:
    (response,) = list(recorded("candles_minutes.json"))[:1]
    (candle,) = parse_candles(response["body"])
    assert candle.open_time == datetime(2026, 3, 11, 14, 40, tzinfo=UTC)
    assert candle.close == D("103460000.0") and candle.volume == D("1.5933512")
    assert candle.last_trade_at == datetime(2026, 3, 11, 14, 40, 59, 132000, tzinfo=UTC)


def test_recorded_accounts_and_chance_parse() -> None:
    (accounts,) = [parse_accounts(r["body"]) for r in recorded("accounts.json")]
    assert {a.currency for a in accounts} >= {"KRW"}
    (chance,) = [parse_chance(r["body"]) for r in recorded("orders_chance.json")]
    assert (chance.market, chance.bid_fee, chance.min_total) == ("KRW-BTC", D("0.0005"), D("5000"))


@pytest.mark.parametrize(
    "name", ["order_get.json", "orders_post.json", "order_delete.json", "orders_test.json"]
)
def test_recorded_orders_parse(name: str) -> None:
    orders = [parse_order(r["body"]) for r in recorded(name)]
    assert orders
    for order in orders:
        assert order.market == "KRW-BTC" and order.created_at.tzinfo is UTC
        for trade in order.trades:
            assert trade.funds > 0 and trade.volume > 0


@pytest.mark.parametrize("name", ["orders_closed_get.json", "orders_uuids_get.json"])
def test_recorded_order_lists_parse(name: str) -> None:
    for response in recorded(name):
        assert all(parse_order(item).uuid for item in response["body"])


CANDLE = {
    "market": "KRW-BTC",
    "candle_date_time_utc": "2026-03-11T14:40:00",
    "candle_date_time_kst": "2026-03-11T23:40:00",
    "opening_price": D("103600000.0"),
    "high_price": D("103600000.0"),
    "low_price": D("103425000.0"),
    "trade_price": D("103460000.0"),
    "timestamp": 1773240059132,
    "candle_acc_trade_price": D("164899503.14206"),
    "candle_acc_trade_volume": D("1.5933512"),
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"trade_price": None}, "field 'trade_price' is missing"),
        ({"trade_price": 103460000.0}, "was decoded as a float"),
        ({"trade_price": "abc"}, "field 'trade_price' = 'abc' is not a number"),
        ({"candle_date_time_kst": "2026-03-11T14:40:00"}, "is not candle_date_time_utc"),
        ({"candle_date_time_utc": "yesterday"}, "is not a time"),
        ({"low_price": D("103500000.0")}, "inconsistent prices"),
        ({"timestamp": "soon"}, "is not an integer"),
    ],
)
def test_malformed_candle_is_refused_naming_field_and_value(change: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(UpbitMalformedPayloadError, match=message):
        parse_candle({**CANDLE, **change})


def test_malformed_json_and_wrong_shapes_are_refused() -> None:
    with pytest.raises(UpbitMalformedPayloadError, match="malformed JSON"):
        loads('{"market": "KRW-BTC"')
    with pytest.raises(UpbitMalformedPayloadError, match="candle list was expected"):
        parse_candles({"error": "x"})
    with pytest.raises(UpbitMalformedPayloadError, match="'state' = 'pending'"):
        parse_order({**next(recorded("order_get.json"))["body"], "state": "pending"})
