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
    parse_orderbooks,
    parse_orders,
    parse_tickers,
    parse_trade_ticks,
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


def test_recorded_order_lists_keep_their_executed_funds() -> None:
    (response,) = list(recorded("orders_closed_get.json"))[:1]
    for raw, order in zip(response["body"], parse_orders(response["body"]), strict=True):
        assert order.executed_funds == D(raw["executed_funds"])


def test_a_recorded_ticker_reads_as_written() -> None:
    (response,) = list(recorded("ticker.json"))[:1]
    (raw,) = response["body"]
    (ticker,) = parse_tickers(response["body"])
    assert (ticker.trade_price, ticker.prev_closing_price, ticker.change) == (
        raw["trade_price"],
        raw["prev_closing_price"],
        "RISE",
    )
    assert ticker.acc_trade_volume_24h == D("1587.73606087")
    assert ticker.traded_at == datetime(2026, 3, 11, 14, 40, 58, 930000, tzinfo=UTC)


def test_recorded_trades_and_order_book_read_as_written() -> None:
    (response,) = list(recorded("trades_ticks.json"))[:1]
    (trade,) = parse_trade_ticks(response["body"])
    assert (trade.price, trade.volume, trade.ask_bid) == (D("103460000.0"), D("0.004"), "ASK")
    assert trade.sequential_id == 17732400590950000
    assert trade.traded_at == datetime(2026, 3, 11, 14, 40, 59, 95000, tzinfo=UTC)
    (response,) = list(recorded("orderbook.json"))[:1]
    (book,) = parse_orderbooks(response["body"])
    units = response["body"][0]["orderbook_units"]
    assert len(book.asks) == len(units) == 30
    assert book.bids[0] == (D(units[0]["bid_price"]), units[0]["bid_size"])
    assert book.asks[0] == (D(units[0]["ask_price"]), units[0]["ask_size"])


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
    ticker = next(recorded("ticker.json"))["body"][0]
    with pytest.raises(UpbitMalformedPayloadError, match="'change' = 'UP' is not one of"):
        parse_tickers([{**ticker, "change": "UP"}])
    with pytest.raises(UpbitMalformedPayloadError, match="a trade list was expected"):
        parse_trade_ticks({"market": "KRW-BTC"})
    book = next(recorded("orderbook.json"))["body"][0]
    with pytest.raises(UpbitMalformedPayloadError, match="'orderbook_units' is not a list"):
        parse_orderbooks([{**book, "orderbook_units": None}])
    with pytest.raises(UpbitMalformedPayloadError, match="field 'bid_size' is missing"):
        parse_orderbooks(
            [{**book, "orderbook_units": [{"ask_price": 1, "ask_size": 1, "bid_price": 1}]}]
        )
