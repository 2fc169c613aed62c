"""Orders with their fills and status history: `rm_orders`, `rm_order_fills`, and the rest.

`rm_order_status_history` keeps one row per status change, with its reason and actor.
"""

from __future__ import annotations

from typing import ClassVar

from domain.events import LedgerEvent
from domain.orders.order import Order
from domain.orders.status_after import status_after
from projections.projection import Projection
from projections.rows import Insert, RowOp, Update


class OrdersProjection(Projection):
    """An order row kept current, one row per fill, one row per status change."""

    name: ClassVar[str] = "orders"
    tables: ClassVar[tuple[str, ...]] = ("rm_orders", "rm_order_fills", "rm_order_status_history")

    def rows(self, event: LedgerEvent, position: int) -> list[RowOp]:
        """Return the order rows of an order event; nothing for other events."""
        status = status_after(event)
        if status is None:
            return []
        order_id = event.originator_id
        reason = getattr(event, "reason", None)
        history = Insert(
            "rm_order_status_history",
            {
                "order_id": order_id,
                "position": position,
                "status": status.value,
                "reason": reason,
                "changed_at": event.occurred_at,
                "actor": event.actor,
            },
        )
        current: dict[str, object] = {
            "status": status.value,
            "updated_at": event.occurred_at,
            "last_position": position,
        }
        match event:
            case Order.Placed():
                return [
                    Insert(
                        "rm_orders",
                        {
                            "order_id": order_id,
                            "client_order_id": event.client_order_id,
                            "strategy_id": event.strategy_id,
                            "market": event.market,
                            "side": event.side,
                            "order_type": event.order_type,
                            "price_krw": event.price_krw,
                            "volume_btc": event.volume_btc,
                            "amount_krw": event.amount_krw,
                            "placed_at": event.occurred_at,
                            "correlation_id": event.correlation_id,
                            **current,
                        },
                    ),
                    history,
                ]
            case Order.Accepted():
                current["exchange_order_id"] = event.exchange_order_id
            case Order.PartiallyFilled() | Order.Filled():
                fill = Insert(
                    "rm_order_fills",
                    {
                        "order_id": order_id,
                        "trade_id": event.trade_id,
                        "price_krw": event.price_krw,
                        "qty_btc": event.qty_btc,
                        "fee_krw": event.fee_krw,
                        "filled_at": event.occurred_at,
                        "position": position,
                    },
                )
                added = {
                    "filled_btc": event.qty_btc,
                    "filled_krw": event.qty_btc * event.price_krw,
                    "fees_krw": event.fee_krw,
                    "fills": 1,
                }
                return [fill, Update("rm_orders", {"order_id": order_id}, current, added), history]
            case _:
                current["reason"] = reason
        return [Update("rm_orders", {"order_id": order_id}, current), history]
