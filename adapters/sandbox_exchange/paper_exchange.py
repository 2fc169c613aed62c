"""The sandbox's accounts and order book: Upbit's order rules, filled by the paper fill model.

An order fills from the candle whose minute holds its creation time (strategies.md: an order
placed as candle c closes fills from c+1 on), one candle at a time as the sandbox clock closes
it, with the same `FillModel` as the backtests, participation cap included; gap minutes are the
tape's flat synthetic candles, as in a backtest. A fill is dated at its candle's close, when it
becomes known (as the backtest engine records it). Matching is lazy and deterministic: every
call first brings the book up to the clock's now. Order and trade ids are uuid5 of their cause.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from uuid import NAMESPACE_URL, uuid5

from adapters.sandbox_exchange.market_data import SandboxMarket
from adapters.sandbox_exchange.sandbox_order import SandboxOrder, SandboxTrade, decimal_text
from domain.constants import DEFAULT_FEE_RATE, MAX_ORDER_TOTAL_KRW, MIN_ORDER_TOTAL_KRW
from domain.fills.paper_fill_model import FillModel, PaperFill
from domain.money import floor8
from domain.ticks import is_on_tick

SANDBOX_NS = uuid5(NAMESPACE_URL, "https://github.com/upbit-ledger/sandbox-exchange")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ZERO = Decimal(0)
ONE_SATOSHI = Decimal("0.00000001")
ORDER_TYPES = {"bid": ("limit", "price"), "ask": ("limit", "market")}


class OrderRefusedError(Exception):
    """An exchange request refused with Upbit's status, error name and a message."""

    def __init__(self, status: int, name: str, message: str) -> None:
        super().__init__(message)
        self.status, self.name, self.message = status, name, message


@dataclass
class Balance:
    """One currency of the account: free, locked in orders, average buy price (KRW)."""

    free: Decimal = ZERO
    locked: Decimal = ZERO
    avg_buy_price: Decimal = ZERO


class PaperExchange:
    """The orders and balances of the sandbox's one test account, matched against candles."""

    def __init__(
        self,
        markets: dict[str, SandboxMarket],
        *,
        krw: Decimal = Decimal("10000000"),
        btc: Decimal = ZERO,
        model: FillModel | None = None,
    ) -> None:
        self.markets = markets
        self.model = model or FillModel(fee_rate=DEFAULT_FEE_RATE)
        self.balances: dict[str, Balance] = {"KRW": Balance(free=krw)}
        for market in markets:
            self.balances[market.split("-")[1]] = Balance(free=btc)
        self.orders: dict[str, SandboxOrder] = {}
        self._by_identifier: dict[str, str] = {}
        self._used_identifiers: set[str] = set()
        self._lock = threading.RLock()

    # Reads.
    def accounts(self, now: datetime) -> list[dict[str, Any]]:
        """Return GET /v1/accounts: KRW, and each coin held or locked."""
        with self._lock:
            self.advance(now)
            return [
                self._account_body(currency)
                for currency, balance in self.balances.items()
                if currency == "KRW" or balance.free or balance.locked
            ]

    def chance(self, market: str, now: datetime) -> dict[str, Any]:
        """Return GET /v1/orders/chance for `market` (fees, limits, both accounts)."""
        self._market(market)
        fee = str(self.model.fee_rate)
        quote, base = market.split("-")
        with self._lock:
            self.advance(now)
            return {
                "bid_fee": fee,
                "ask_fee": fee,
                "maker_bid_fee": fee,
                "maker_ask_fee": fee,
                "market": {
                    "id": market,
                    "name": f"{base}/{quote}",
                    "order_types": ["limit"],
                    "order_sides": ["ask", "bid"],
                    "bid_types": ["limit", "price"],
                    "ask_types": ["limit", "market"],
                    "bid": {"currency": quote, "min_total": str(MIN_ORDER_TOTAL_KRW)},
                    "ask": {"currency": base, "min_total": str(MIN_ORDER_TOTAL_KRW)},
                    "max_total": str(MAX_ORDER_TOTAL_KRW),
                    "state": "active",
                },
                "bid_account": self._account_body(quote),
                "ask_account": self._account_body(base),
            }

    def find(self, now: datetime, *, uuid: str | None, identifier: str | None) -> SandboxOrder:
        """Return one order by uuid (wins) or identifier, brought up to `now`."""
        if uuid is None and identifier is None:
            raise OrderRefusedError(400, "validation_error", "give uuid or identifier")
        with self._lock:
            self.advance(now)
            key = uuid if uuid is not None else self._by_identifier.get(identifier or "")
            order = self.orders.get(key or "")
            if order is None:
                shown = f"uuid {uuid}" if uuid is not None else f"identifier {identifier}"
                raise OrderRefusedError(404, "order_not_found", f"no order has {shown}")
            return order

    def uuid_of(self, identifier: str) -> str | None:
        """Return the uuid of the order with this identifier, or None."""
        return self._by_identifier.get(identifier)

    def listed(self, now: datetime, *, states: set[str], market: str | None) -> list[SandboxOrder]:
        """Return the orders in `states` (of `market`, if given), oldest first."""
        with self._lock:
            self.advance(now)
            return [
                o
                for o in self.orders.values()
                if o.state in states and (market is None or o.market == market)
            ]

    # Commands.
    def place(self, body: dict[str, Any], now: datetime, access_key: str) -> SandboxOrder:
        """Validate and rest an order (POST /v1/orders); refused with Upbit's error name."""
        with self._lock:
            self.advance(now)
            identifier = body.get("identifier")
            if identifier is not None:
                identifier = str(identifier)
                if identifier in self._used_identifiers:
                    raise OrderRefusedError(
                        400,
                        "validation_error",
                        f"identifier {identifier!r} has been used before; "
                        "an identifier is unique forever, even for a refused order",
                    )
                self._used_identifiers.add(identifier)  # a refused request burns it too
            order = self._validated(body, now, identifier, access_key)
            self._lock_funds(order)
            self.orders[order.uuid] = order
            if identifier is not None:
                self._by_identifier[identifier] = order.uuid
            return order

    def cancel(self, now: datetime, *, uuid: str | None, identifier: str | None) -> dict[str, Any]:
        """Cancel a resting order; return its object as the cancel found it (still `wait`)."""
        with self._lock:
            order = self.find(now, uuid=uuid, identifier=identifier)
            if not order.is_open:
                raise OrderRefusedError(
                    404,
                    "order_not_found",
                    f"order {order.uuid} is {order.state}: nothing to cancel",
                )
            snapshot = order.body()
            self._close(order, "cancel", now)
            return snapshot

    def advance(self, now: datetime) -> None:
        """Fill every resting order with each candle that has closed by `now`."""
        with self._lock:
            for order in self.orders.values():
                if order.is_open:
                    self._match(order, now)

    # Matching.
    def _match(self, order: SandboxOrder, now: datetime) -> None:
        tape = self.markets[order.market].tape
        last = min(_minute(now) - tape.start_minute - 1, len(tape) - 1)  # closed by now
        while order.is_open and order.next_index <= last:
            index = order.next_index
            order.next_index += 1
            if index < 0:
                continue
            candle = tape.candle(index)
            fill = self._fill(order, candle)
            if fill is not None:
                self._apply(order, fill, candle.close_time, index)  # known when it closes
            elif order.ord_type == "price" and floor8(order.remaining_krw / candle.open) == 0:
                self._close(order, "cancel", candle.open_time)

    def _fill(self, order: SandboxOrder, candle: Any) -> PaperFill | None:
        model = self.model
        if order.ord_type == "price":
            return model.market_buy(order.remaining_krw, candle)
        remaining = order.remaining_volume
        assert remaining is not None
        if order.ord_type == "market":
            return model.market_sell(remaining, candle)
        assert order.price is not None
        if order.side == "bid":
            return model.limit_buy(order.price, remaining, candle)
        return model.limit_sell(order.price, remaining, candle)

    def _apply(self, order: SandboxOrder, fill: PaperFill, at: datetime, index: int) -> None:
        funds = fill.qty * fill.price
        quote, base = order.market.split("-")
        krw, coin = self.balances[quote], self.balances[base]
        held_before = order.locked
        order.executed_volume += fill.qty
        order.executed_funds += funds
        order.paid_fee += fill.fee
        order.trades.append(
            SandboxTrade(
                str(uuid5(SANDBOX_NS, f"{order.uuid}/{index}")), fill.price, fill.qty, funds, at
            )
        )
        if order.side == "bid":
            released = held_before - order.locked
            krw.locked -= released
            krw.free += released - funds - fill.fee
            held = coin.free + coin.locked
            coin.avg_buy_price = (coin.avg_buy_price * held + funds) / (held + fill.qty)
            coin.free += fill.qty
        else:
            coin.locked -= fill.qty
            krw.free += funds - fill.fee
        if fill.is_complete:
            exact = order.ord_type != "price" or order.remaining_krw == 0
            self._close(order, "done" if exact else "cancel", at)

    def _close(self, order: SandboxOrder, state: str, at: datetime) -> None:
        quote, base = order.market.split("-")
        balance = self.balances[quote if order.side == "bid" else base]
        held = order.locked
        balance.locked -= held
        balance.free += held
        order.final_locked = held if state == "cancel" else ZERO
        order.state, order.closed_at = state, at

    def _lock_funds(self, order: SandboxOrder) -> None:
        quote, base = order.market.split("-")
        balance = self.balances[quote if order.side == "bid" else base]
        if order.locked > balance.free:
            currency = quote if order.side == "bid" else base
            raise OrderRefusedError(
                400,
                f"insufficient_funds_{order.side}",
                f"the order needs {order.locked} {currency} (fee included) but only "
                f"{balance.free} {currency} is free",
            )
        balance.free -= order.locked
        balance.locked += order.locked

    # Validation (Upbit's names, our messages: the value and the rule).
    def _validated(
        self, body: dict[str, Any], now: datetime, identifier: str | None, access_key: str
    ) -> SandboxOrder:
        market = self._market(body.get("market"))
        side = body.get("side")
        if side not in ORDER_TYPES:
            raise OrderRefusedError(
                400, "validation_error", "side is missing, side does not have a valid value"
            )
        ord_type = body.get("ord_type")
        if ord_type not in ORDER_TYPES[side]:
            raise OrderRefusedError(
                400,
                "validation_error",
                f"ord_type {ord_type!r} is not one of {ORDER_TYPES[side]} for side {side}",
            )
        price = _amount(body, "price", side)
        volume = _amount(body, "volume", side)
        if ord_type == "price" and volume is not None:
            raise OrderRefusedError(400, "create_bid_error", "a market bid (price) takes no volume")
        if ord_type == "market" and price is not None:
            raise OrderRefusedError(400, "create_ask_error", "a market ask takes no price")
        if ord_type in ("limit", "price") and price is None:
            raise OrderRefusedError(400, "validation_error", f"ord_type {ord_type} needs a price")
        if ord_type in ("limit", "market") and volume is None:
            raise OrderRefusedError(400, "validation_error", f"ord_type {ord_type} needs a volume")
        if volume is not None and floor8(volume) != volume:
            raise OrderRefusedError(
                400, f"invalid_volume_{side}", f"volume {volume} has more than 8 decimals"
            )
        if ord_type == "limit" and price is not None and not is_on_tick(price, now):
            raise OrderRefusedError(
                400, f"invalid_price_{side}", f"price {price} is not on the KRW tick grid"
            )
        total = self._total(market, ord_type, price, volume, now)
        if total < MIN_ORDER_TOTAL_KRW:
            raise OrderRefusedError(
                400,
                f"under_min_total_{side}",
                f"order total {total} KRW is under the minimum {MIN_ORDER_TOTAL_KRW} KRW",
            )
        if total > MAX_ORDER_TOTAL_KRW:
            raise OrderRefusedError(
                400,
                "validation_error",
                f"order total {total} KRW is over the maximum {MAX_ORDER_TOTAL_KRW} KRW",
            )
        tape = self.markets[market].tape
        cause = identifier if identifier is not None else f"#{len(self.orders)}"
        return SandboxOrder(
            uuid=str(uuid5(SANDBOX_NS, f"{access_key}/{cause}")),
            identifier=identifier,
            market=market,
            side=side,
            ord_type=ord_type,
            price=price,
            volume=volume,
            fee_rate=self.model.fee_rate,
            created_at=now,
            next_index=_minute(now) - tape.start_minute,
        )

    def _total(
        self,
        market: str,
        ord_type: str,
        price: Decimal | None,
        volume: Decimal | None,
        now: datetime,
    ) -> Decimal:
        if ord_type == "price":
            assert price is not None
            return price
        assert volume is not None
        if ord_type == "limit":
            assert price is not None
            return price * volume
        last = self.markets[market].last_bar(now)
        reference = Decimal(last.close) if last is not None else ZERO
        return volume * reference

    def _market(self, market: Any) -> str:
        if not isinstance(market, str) or market not in self.markets:
            raise OrderRefusedError(
                400,
                "validation_error",
                f"market {market!r} is not traded here (markets: {', '.join(self.markets)})",
            )
        return market

    def _account_body(self, currency: str) -> dict[str, Any]:
        balance = self.balances.get(currency, Balance())
        return {
            "currency": currency,
            "balance": decimal_text(balance.free),
            "locked": decimal_text(balance.locked),
            "avg_buy_price": decimal_text(balance.avg_buy_price.quantize(ONE_SATOSHI)),
            "avg_buy_price_modified": False,
            "unit_currency": "KRW",
        }


def _amount(body: dict[str, Any], key: str, side: str) -> Decimal | None:
    value = body.get(key)
    if value is None:
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        number = Decimal("NaN")
    if not number.is_finite() or number <= 0:
        raise OrderRefusedError(
            400, f"invalid_{key}_{side}", f"{key} {value!r} is not a positive decimal number"
        )
    return number


def _minute(at: datetime) -> int:
    return int((at.astimezone(UTC) - EPOCH) // timedelta(minutes=1))
