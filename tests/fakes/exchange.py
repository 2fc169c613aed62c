"""An in-memory exchange behind the `ExchangeGateway` port: Upbit's order rules in miniature.

Orders fill by the paper fill model as the test closes candles on the exchange's clock
(`close`), from the candle after the one whose close they arrived at; trades are dated at
their candle's close, as the sandbox dates them. Faults can be armed: the next submission
fails before or after the order is created (the answer lost), or the exchange is down.
Balances are the account's totals (`fund` puts money in; trades move it; all shown as free).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from uuid import UUID, uuid5

from commands.errors import ExchangeRefusedOrderError, ExchangeUnavailableError
from commands.ports import (
    ExchangeBalance,
    ExchangeOrder,
    ExchangeOrderState,
    ExchangeTrade,
    OrderTicket,
)
from domain.candles.candle import Candle
from domain.constants import MIN_ORDER_TOTAL_KRW
from domain.fills.paper_fill_model import FillModel
from domain.orders.terms import OrderSide, OrderType

FAKE_NS = UUID("6f1d3c52-3b8e-4a57-9c61-0d2f7a1e9b44")


@dataclass
class FakeOrder:
    """One order at the fake exchange."""

    ticket: OrderTicket
    exchange_order_id: str
    created_at: datetime
    remaining_btc: Decimal
    remaining_krw: Decimal
    state: ExchangeOrderState = ExchangeOrderState.WAIT
    trades: list[ExchangeTrade] = field(default_factory=list)

    def view(self) -> ExchangeOrder:
        return ExchangeOrder(
            self.ticket.order_id,
            self.exchange_order_id,
            self.ticket.market,
            self.state,
            self.created_at,
            tuple(self.trades),
        )


class FakeExchange:
    """The orders of one account, matched against the candles the test closes."""

    name = "fake"

    def __init__(self, model: FillModel, start: datetime) -> None:
        self.model = model
        self.now = start
        self.orders: dict[UUID, FakeOrder] = {}
        self.posts = 0
        """Order submissions that reached the exchange (created or refused)."""
        self.fault: str | None = None
        """'lost_after_create', 'fail_before_create', 'refuse' (Upbit refuses the order for
        good: `insufficient_funds_bid`/`_ask`, nothing created), 'down' (any call) or
        'down_on_sync' (the next look-up of an order it holds) for the next calls."""
        self.fault_count = 0
        self.totals: dict[str, Decimal] = {"KRW": Decimal(0), "BTC": Decimal(0)}
        self.calls: list[tuple[str, UUID]] = []
        """Every submission and look-up asked of the exchange, in order: (`submit`|`find`, id)."""

    # The test's controls.
    def arm(self, fault: str, count: int = 1) -> None:
        """Make the next `count` affected calls fail with `fault`."""
        self.fault, self.fault_count = fault, count

    def fund(self, currency: str, amount: Decimal) -> None:
        """Add `amount` of `currency` to the account (a deposit; negative: a withdrawal)."""
        self.totals[currency] = self.totals.get(currency, Decimal(0)) + amount

    def close(self, candle: Candle) -> None:
        """Close `candle` on the exchange's clock: fill what rests, dated at its close."""
        for order in self.orders.values():
            if order.state is ExchangeOrderState.WAIT and order.created_at <= candle.open_time:
                self._match(order, candle)
        self.now = candle.close_time

    # The port.
    def submit(self, ticket: OrderTicket) -> ExchangeOrder:
        self.calls.append(("submit", ticket.order_id))
        self._maybe_down()
        if self._take_fault("fail_before_create"):
            raise ExchangeUnavailableError("500 before the order was created")
        self.posts += 1
        if self._take_fault("refuse"):
            raise ExchangeRefusedOrderError(
                f"insufficient_funds_{ticket.side.value}",
                "주문가능한 금액이 부족합니다. (the account cannot fund the order)",
            )
        if ticket.order_id in self.orders:
            raise ExchangeRefusedOrderError(
                "validation_error", f"identifier {ticket.order_id} was already used"
            )
        total = (
            ticket.amount_krw
            if ticket.amount_krw is not None
            else (ticket.volume_btc or Decimal(0)) * (ticket.price_krw or Decimal(0))
        )
        if ticket.price_krw is not None and total < MIN_ORDER_TOTAL_KRW:
            raise ExchangeRefusedOrderError("under_min_total_bid", f"total {total} is below 5000")
        order = FakeOrder(
            ticket,
            str(uuid5(FAKE_NS, str(ticket.order_id))),
            self.now,
            ticket.volume_btc or Decimal(0),
            ticket.amount_krw or Decimal(0),
        )
        self.orders[ticket.order_id] = order
        if self._take_fault("lost_after_create"):
            raise ExchangeUnavailableError("504 after the order was created")
        return order.view()

    def find(self, order_id: UUID) -> ExchangeOrder | None:
        self.calls.append(("find", order_id))
        self._maybe_down()
        order = self.orders.get(order_id)
        if order is not None and self._take_fault("down_on_sync"):
            raise ExchangeUnavailableError("the exchange is down (503) while asked for an order")
        return order.view() if order else None

    def cancel(self, order_id: UUID) -> ExchangeOrder:
        self._maybe_down()
        order = self.orders.get(order_id)
        if order is None or order.state is not ExchangeOrderState.WAIT:
            raise ExchangeRefusedOrderError("order_not_found", f"order {order_id} cannot cancel")
        order.state = ExchangeOrderState.CANCEL
        return order.view()

    def open_orders(self, market: str) -> list[ExchangeOrder]:
        self._maybe_down()
        return [
            o.view()
            for o in self.orders.values()
            if o.state is ExchangeOrderState.WAIT and o.ticket.market == market
        ]

    def balances(self) -> list[ExchangeBalance]:
        self._maybe_down()
        return [ExchangeBalance(c, total, Decimal(0)) for c, total in self.totals.items()]

    # Plumbing.
    def _maybe_down(self) -> None:
        if self._take_fault("down"):
            raise ExchangeUnavailableError("the exchange is down (503)")

    def _take_fault(self, fault: str) -> bool:
        if self.fault != fault or self.fault_count <= 0:
            return False
        self.fault_count -= 1
        return True

    def _match(self, order: FakeOrder, candle: Candle) -> None:
        ticket, model = order.ticket, self.model
        if ticket.order_type is OrderType.MARKET:
            if ticket.side is OrderSide.BID:
                fill = model.market_buy(order.remaining_krw, candle)
            else:
                fill = model.market_sell(order.remaining_btc, candle)
        elif ticket.side is OrderSide.BID:
            assert ticket.price_krw is not None
            fill = model.limit_buy(ticket.price_krw, order.remaining_btc, candle)
        else:
            assert ticket.price_krw is not None
            fill = model.limit_sell(ticket.price_krw, order.remaining_btc, candle)
        if fill is None:
            return
        trade_id = str(uuid5(FAKE_NS, f"{ticket.order_id}:{len(order.trades)}"))
        order.trades.append(
            ExchangeTrade(trade_id, fill.price, fill.qty, fill.fee, candle.close_time)
        )
        funds = fill.qty * fill.price
        if ticket.side is OrderSide.BID:
            self.totals["KRW"] -= funds + fill.fee
            self.totals["BTC"] += fill.qty
        else:
            self.totals["KRW"] += funds - fill.fee
            self.totals["BTC"] -= fill.qty
        order.remaining_btc -= fill.qty
        order.remaining_krw -= fill.qty * fill.price
        if fill.is_complete:
            is_amount = ticket.amount_krw is not None
            order.state = ExchangeOrderState.CANCEL if is_amount else ExchangeOrderState.DONE
