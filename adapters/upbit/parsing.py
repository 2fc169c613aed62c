"""Parse Upbit payloads into exact, timezone-aware values; refuse anything malformed.

Units and zones at this boundary (style S6.4): prices and amounts in KRW, volumes in the base
asset (BTC), every time timezone-aware UTC. Quotation bodies carry JSON numbers and exchange
bodies decimal strings; decode JSON with `loads` so numbers arrive as exact Decimals.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from adapters.upbit.errors import UpbitMalformedPayloadError

KST_OFFSET = timedelta(hours=9)


def loads(text: str | bytes) -> Any:
    """Decode Upbit JSON with every number as an exact Decimal (never a float)."""
    try:
        return json.loads(text, parse_float=Decimal)
    except ValueError as error:
        raise UpbitMalformedPayloadError(f"Upbit sent malformed JSON: {error}") from None


@dataclass(frozen=True)
class UpbitCandle:
    """A candle as Upbit reports it: start time in UTC, prices in KRW, volume in the base."""

    market: str
    open_time: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    value: Decimal
    last_trade_at: datetime
    """Time of the last trade in the candle (not its end)."""


@dataclass(frozen=True)
class UpbitAccount:
    """One currency's balance: free, locked in orders, and the average buy price (KRW)."""

    currency: str
    balance: Decimal
    locked: Decimal
    avg_buy_price: Decimal


@dataclass(frozen=True)
class UpbitTrade:
    """One execution of an order."""

    trade_id: str
    price: Decimal
    volume: Decimal
    funds: Decimal
    created_at: datetime


@dataclass(frozen=True)
class UpbitOrder:
    """An order as the exchange holds it (POST response, GET /v1/order, lists)."""

    uuid: str
    market: str
    side: str
    ord_type: str
    state: str
    price: Decimal | None
    volume: Decimal | None
    remaining_volume: Decimal | None
    executed_volume: Decimal
    executed_funds: Decimal | None
    """KRW filled so far (list endpoints only)."""
    paid_fee: Decimal
    locked: Decimal
    trades_count: int
    created_at: datetime
    identifier: str | None
    trades: tuple[UpbitTrade, ...]


@dataclass(frozen=True)
class UpbitChance:
    """Fees and limits of a market for the account (GET /v1/orders/chance)."""

    market: str
    bid_fee: Decimal
    ask_fee: Decimal
    min_total: Decimal
    max_total: Decimal | None


@dataclass(frozen=True)
class UpbitTicker:
    """A market's ticker: last price and the UTC day's open, range and previous close (KRW)."""

    market: str
    trade_price: Decimal
    opening_price: Decimal
    high_price: Decimal
    low_price: Decimal
    prev_closing_price: Decimal
    change: str
    """RISE, EVEN or FALL against the previous UTC day's close."""
    acc_trade_volume_24h: Decimal
    """Base asset (BTC) traded in the last 24 h."""
    acc_trade_price_24h: Decimal
    """KRW traded in the last 24 h."""
    traded_at: datetime
    """Time of the last trade (UTC)."""


@dataclass(frozen=True)
class UpbitTradeTick:
    """One public trade: price (KRW), volume (BTC), the taker's side, and when (UTC)."""

    market: str
    price: Decimal
    volume: Decimal
    ask_bid: str
    """ASK: the taker sold into a bid; BID: the taker bought an ask."""
    sequential_id: int
    traded_at: datetime


@dataclass(frozen=True)
class UpbitOrderbook:
    """A market's order book: (price KRW, size BTC) levels, best first, and its time (UTC)."""

    market: str
    at: datetime
    asks: tuple[tuple[Decimal, Decimal], ...]
    bids: tuple[tuple[Decimal, Decimal], ...]


def parse_candle(payload: Mapping[str, Any]) -> UpbitCandle:
    """Parse one REST or WebSocket candle (long field names)."""
    obj = _mapping(payload, "candle")
    utc = _naive_time(obj, "candle_date_time_utc")
    kst = _naive_time(obj, "candle_date_time_kst")
    if kst - utc != KST_OFFSET:
        raise UpbitMalformedPayloadError(
            f"candle_date_time_kst {obj['candle_date_time_kst']} is not "
            f"candle_date_time_utc {obj['candle_date_time_utc']} + 9 h"
        )
    candle = UpbitCandle(
        market=_text(obj, "market" if "market" in obj else "code"),
        open_time=utc.replace(tzinfo=UTC),
        open=_decimal(obj, "opening_price"),
        high=_decimal(obj, "high_price"),
        low=_decimal(obj, "low_price"),
        close=_decimal(obj, "trade_price"),
        volume=_decimal(obj, "candle_acc_trade_volume"),
        value=_decimal(obj, "candle_acc_trade_price"),
        last_trade_at=_epoch_ms(obj, "timestamp"),
    )
    if (
        not candle.low
        <= min(candle.open, candle.close)
        <= max(candle.open, candle.close)
        <= candle.high
        or candle.low <= 0
        or candle.volume < 0
    ):
        raise UpbitMalformedPayloadError(
            f"candle {candle.open_time.isoformat()} of "
            f"{candle.market} has inconsistent prices or volume"
        )
    return candle


def parse_candles(payload: Any) -> list[UpbitCandle]:
    """Parse a REST candle list (newest first, as Upbit sends it) into oldest-first order."""
    if not isinstance(payload, list):
        raise UpbitMalformedPayloadError(
            f"a candle list was expected, {type(payload).__name__} was found"
        )
    return sorted((parse_candle(item) for item in payload), key=lambda c: c.open_time)


def parse_accounts(payload: Any) -> list[UpbitAccount]:
    """Parse GET /v1/accounts."""
    if not isinstance(payload, list):
        raise UpbitMalformedPayloadError("an account list was expected")
    return [
        UpbitAccount(
            _text(a, "currency"),
            _decimal(a, "balance"),
            _decimal(a, "locked"),
            _decimal(a, "avg_buy_price"),
        )
        for a in (_mapping(item, "account") for item in payload)
    ]


def parse_chance(payload: Any) -> UpbitChance:
    """Parse GET /v1/orders/chance."""
    obj = _mapping(payload, "orders/chance")
    market = _mapping(obj.get("market"), "orders/chance market")
    bid = _mapping(market.get("bid"), "orders/chance market.bid")
    max_total = market.get("max_total")
    return UpbitChance(
        market=_text(market, "id"),
        bid_fee=_decimal(obj, "bid_fee"),
        ask_fee=_decimal(obj, "ask_fee"),
        min_total=_decimal(bid, "min_total"),
        max_total=None if max_total is None else _decimal(market, "max_total"),
    )


def parse_order(payload: Any) -> UpbitOrder:
    """Parse an order object (with its `trades` when the endpoint includes them)."""
    obj = _mapping(payload, "order")
    trades = tuple(
        UpbitTrade(
            _text(t, "uuid"),
            _decimal(t, "price"),
            _decimal(t, "volume"),
            _decimal(t, "funds"),
            _iso_time(t, "created_at"),
        )
        for t in (_mapping(item, "trade") for item in obj.get("trades") or [])
    )
    return UpbitOrder(
        uuid=_text(obj, "uuid"),
        market=_text(obj, "market"),
        side=_choice(obj, "side", ("bid", "ask")),
        ord_type=_choice(obj, "ord_type", ("limit", "price", "market", "best")),
        state=_choice(obj, "state", ("wait", "watch", "done", "cancel", "prevented")),
        price=_optional_decimal(obj, "price"),
        volume=_optional_decimal(obj, "volume"),
        remaining_volume=_optional_decimal(obj, "remaining_volume"),
        executed_volume=_decimal(obj, "executed_volume"),
        executed_funds=_optional_decimal(obj, "executed_funds"),
        paid_fee=_decimal(obj, "paid_fee"),
        locked=_decimal(obj, "locked"),
        trades_count=_integer(obj, "trades_count"),
        created_at=_iso_time(obj, "created_at"),
        identifier=None if obj.get("identifier") is None else _text(obj, "identifier"),
        trades=trades,
    )


def parse_orders(payload: Any) -> list[UpbitOrder]:
    """Parse an order list (GET /v1/orders/open, /closed, /uuids)."""
    if not isinstance(payload, list):
        raise UpbitMalformedPayloadError(
            f"an order list was expected, {type(payload).__name__} was found"
        )
    return [parse_order(item) for item in payload]


def parse_tickers(payload: Any) -> list[UpbitTicker]:
    """Parse GET /v1/ticker (a list, one ticker per market)."""
    return [
        UpbitTicker(
            market=_text(t, "market"),
            trade_price=_decimal(t, "trade_price"),
            opening_price=_decimal(t, "opening_price"),
            high_price=_decimal(t, "high_price"),
            low_price=_decimal(t, "low_price"),
            prev_closing_price=_decimal(t, "prev_closing_price"),
            change=_choice(t, "change", ("RISE", "EVEN", "FALL")),
            acc_trade_volume_24h=_decimal(t, "acc_trade_volume_24h"),
            acc_trade_price_24h=_decimal(t, "acc_trade_price_24h"),
            traded_at=_epoch_ms(t, "trade_timestamp"),
        )
        for t in _items(payload, "ticker")
    ]


def parse_trade_ticks(payload: Any) -> list[UpbitTradeTick]:
    """Parse GET /v1/trades/ticks (newest first, as sent)."""
    return [
        UpbitTradeTick(
            market=_text(t, "market"),
            price=_decimal(t, "trade_price"),
            volume=_decimal(t, "trade_volume"),
            ask_bid=_choice(t, "ask_bid", ("ASK", "BID")),
            sequential_id=_integer(t, "sequential_id"),
            traded_at=_epoch_ms(t, "timestamp"),
        )
        for t in _items(payload, "trade")
    ]


def parse_orderbooks(payload: Any) -> list[UpbitOrderbook]:
    """Parse GET /v1/orderbook (one book per market, levels best first)."""
    books = []
    for book in _items(payload, "orderbook"):
        units = book.get("orderbook_units")
        if not isinstance(units, list):
            raise UpbitMalformedPayloadError("field 'orderbook_units' is not a list")
        levels = [_mapping(unit, "orderbook unit") for unit in units]
        books.append(
            UpbitOrderbook(
                market=_text(book, "market"),
                at=_epoch_ms(book, "timestamp"),
                asks=tuple((_decimal(u, "ask_price"), _decimal(u, "ask_size")) for u in levels),
                bids=tuple((_decimal(u, "bid_price"), _decimal(u, "bid_size")) for u in levels),
            )
        )
    return books


# Field readers: each names the field and the value it refused.
def _mapping(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise UpbitMalformedPayloadError(
            f"{what}: an object was expected, {type(value).__name__} was found"
        )
    return value


def _items(payload: Any, what: str) -> list[Mapping[str, Any]]:
    if not isinstance(payload, list):
        raise UpbitMalformedPayloadError(
            f"a {what} list was expected, {type(payload).__name__} was found"
        )
    return [_mapping(item, what) for item in payload]


def _field(obj: Mapping[str, Any], key: str) -> Any:
    if key not in obj or obj[key] is None:
        raise UpbitMalformedPayloadError(f"field {key!r} is missing from {sorted(obj)[:8]}...")
    return obj[key]


def _text(obj: Mapping[str, Any], key: str) -> str:
    value = _field(obj, key)
    if not isinstance(value, str) or not value:
        raise UpbitMalformedPayloadError(f"field {key!r} = {value!r} is not a non-empty string")
    return value


def _choice(obj: Mapping[str, Any], key: str, allowed: tuple[str, ...]) -> str:
    value = _text(obj, key)
    if value not in allowed:
        raise UpbitMalformedPayloadError(f"field {key!r} = {value!r} is not one of {allowed}")
    return value


def _decimal(obj: Mapping[str, Any], key: str) -> Decimal:
    value = _field(obj, key)
    if isinstance(value, bool | float):
        raise UpbitMalformedPayloadError(
            f"field {key!r} = {value!r} was decoded as a {type(value).__name__}; decode Upbit "
            "JSON with adapters.upbit.parsing.loads (exact decimals)"
        )
    try:
        number = Decimal(value) if isinstance(value, int | str) else value
    except InvalidOperation:
        raise UpbitMalformedPayloadError(f"field {key!r} = {value!r} is not a number") from None
    if not isinstance(number, Decimal) or not number.is_finite():
        raise UpbitMalformedPayloadError(f"field {key!r} = {value!r} is not a finite number")
    return number


def _optional_decimal(obj: Mapping[str, Any], key: str) -> Decimal | None:
    return None if obj.get(key) is None else _decimal(obj, key)


def _integer(obj: Mapping[str, Any], key: str) -> int:
    value = _field(obj, key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise UpbitMalformedPayloadError(f"field {key!r} = {value!r} is not an integer")
    return value


def _time(obj: Mapping[str, Any], key: str, what: str) -> tuple[str, datetime]:
    text = _text(obj, key)
    try:
        return text, datetime.fromisoformat(text)
    except ValueError:
        raise UpbitMalformedPayloadError(f"field {key!r} = {text!r} is not {what}") from None


def _naive_time(obj: Mapping[str, Any], key: str) -> datetime:
    text, value = _time(obj, key, "a time")
    if value.tzinfo is not None:
        raise UpbitMalformedPayloadError(
            f"field {key!r} = {text!r} carries a zone; Upbit candle times have none"
        )
    return value


def _iso_time(obj: Mapping[str, Any], key: str) -> datetime:
    text, value = _time(obj, key, "an ISO time")
    if value.tzinfo is None:
        raise UpbitMalformedPayloadError(f"field {key!r} = {text!r} has no UTC offset")
    return value.astimezone(UTC)


def _epoch_ms(obj: Mapping[str, Any], key: str) -> datetime:
    value = _integer(obj, key)
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=value)
