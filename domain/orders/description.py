"""An order's state as plain values, for views and the CLI."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Protocol
from uuid import UUID

from domain.orders.status import OrderStatus
from domain.orders.terms import OrderSide, OrderType


class OrderView(Protocol):
    """An order's state, as the description and the fill rules read it.

    An `Order` is one; neither module imports it, so `order.py` may import both.
    """

    @property
    def id(self) -> UUID: ...  # noqa: D102
    @property
    def version(self) -> int: ...  # noqa: D102
    @property
    def client_order_id(self) -> str: ...  # noqa: D102
    @property
    def strategy_id(self) -> str: ...  # noqa: D102
    @property
    def market(self) -> str: ...  # noqa: D102
    @property
    def side(self) -> OrderSide: ...  # noqa: D102
    @property
    def order_type(self) -> OrderType: ...  # noqa: D102
    @property
    def price_krw(self) -> Decimal | None: ...  # noqa: D102
    @property
    def volume_btc(self) -> Decimal | None: ...  # noqa: D102
    @property
    def amount_krw(self) -> Decimal | None: ...  # noqa: D102
    @property
    def status(self) -> OrderStatus: ...  # noqa: D102
    @property
    def exchange_order_id(self) -> str | None: ...  # noqa: D102
    @property
    def executed_volume_btc(self) -> Decimal: ...  # noqa: D102
    @property
    def executed_funds_krw(self) -> Decimal: ...  # noqa: D102
    @property
    def average_price_krw(self) -> Decimal | None: ...  # noqa: D102
    @property
    def paid_fee_krw(self) -> Decimal: ...  # noqa: D102
    @property
    def fills(self) -> dict[str, list[Decimal]]: ...  # noqa: D102
    @property
    def close_reason(self) -> str | None: ...  # noqa: D102


def describe_order(order: OrderView) -> dict[str, Any]:
    """Return the order's state as plain values."""
    return {
        "order_id": str(order.id),
        "client_order_id": order.client_order_id,
        "strategy_id": order.strategy_id,
        "market": order.market,
        "side": order.side.value,
        "order_type": order.order_type.value,
        "price_krw": order.price_krw,
        "volume_btc": order.volume_btc,
        "amount_krw": order.amount_krw,
        "status": order.status.value,
        "exchange_order_id": order.exchange_order_id,
        "executed_volume_btc": order.executed_volume_btc,
        "executed_funds_krw": order.executed_funds_krw,
        "average_price_krw": order.average_price_krw,
        "paid_fee_krw": order.paid_fee_krw,
        "fills": len(order.fills),
        "close_reason": order.close_reason,
        "version": order.version,
    }
