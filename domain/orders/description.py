"""An order's state as plain values, for views and the CLI."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from domain.orders.order import Order


def describe_order(order: Order) -> dict[str, Any]:
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
