"""The accountant's tables of an audit bundle: its orders, fills and daily P&L, as CSV rows.

Pure: fed the bundle's events (their canonical audit JSON, decoded) in log position order, it
returns text cells. Money is summed as `Decimal` and written without exponent or trailing
zeros; only an average price is a division (to the context's 28 significant digits).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from domain.audit.daily_pnl import DAILY_PNL_COLUMNS, DailyPnl
from domain.orders.order import Order
from domain.portfolio.ledger import Portfolio

ZERO = Decimal(0)

STATUS_BY_TOPIC = {
    Order.Placed.TOPIC: "new",
    Order.Accepted.TOPIC: "open",
    Order.PartiallyFilled.TOPIC: "partially_filled",
    Order.Filled.TOPIC: "filled",
    Order.Cancelled.TOPIC: "cancelled",
    Order.Rejected.TOPIC: "rejected",
    Order.SubmissionFailed.TOPIC: "submission_failed",
}
"""The status an order has after each of its events (the last one in the bundle wins)."""
FILL_TOPICS = frozenset({Order.PartiallyFilled.TOPIC, Order.Filled.TOPIC})
CLOSING_TOPICS = frozenset({Order.Filled.TOPIC, Order.Cancelled.TOPIC, Order.Rejected.TOPIC})
SETTLED_TOPIC = Portfolio.FillSettled.TOPIC
ORDER_FIELDS = frozenset(
    {
        "topic",
        "originator_id",
        "position",
        "occurred_at",
        "occurred_at_kst",
        "client_order_id",
        "strategy_id",
        "market",
        "side",
        "order_type",
        "price_krw",
        "volume_btc",
        "amount_krw",
        "exchange_order_id",
        "reason",
        "rejected_by",
        "trade_id",
        "qty_btc",
        "fee_krw",
    }
)
"""The fields of an order's events that its rows use: all an order's events are held until the
tables are made, so only these are kept (a million-event export holds fewer bytes)."""

ORDER_COLUMNS = (
    "order_id",
    "client_order_id",
    "strategy_id",
    "market",
    "side",
    "order_type",
    "limit_price_krw",
    "volume_btc",
    "amount_krw",
    "placed_at_utc",
    "placed_at_kst",
    "status",
    "status_reason",
    "closed_at_utc",
    "closed_at_kst",
    "exchange_order_id",
    "fills",
    "filled_qty_btc",
    "filled_krw",
    "average_price_krw",
    "fees_krw",
    "placed_position",
    "first_position",
    "last_position",
)
FILL_COLUMNS = (
    "filled_at_utc",
    "filled_at_kst",
    "trading_day",
    "order_id",
    "client_order_id",
    "trade_id",
    "strategy_id",
    "market",
    "side",
    "price_krw",
    "qty_btc",
    "gross_krw",
    "fee_krw",
    "cash_delta_krw",
    "realised_pnl_krw",
    "completes_order",
    "position",
)


@dataclass(frozen=True)
class SummaryTable:
    """One CSV file of a bundle: its name, its header and its rows of text cells."""

    file_name: str
    header: tuple[str, ...]
    rows: list[tuple[str, ...]]


class AccountingSummaries:
    """The orders, fills and daily P&L of a bundle's events, as CSV tables."""

    def __init__(self) -> None:
        self._placed: dict[str, dict[str, Any]] = {}
        self._order_events: dict[str, list[dict[str, Any]]] = {}
        self._fills: list[dict[str, Any]] = []
        self._settled: dict[tuple[str, str], dict[str, Any]] = {}
        self._daily_pnl = DailyPnl()

    def remember(self, event: dict[str, Any]) -> None:
        """Learn an order.placed event outside the bundle's selection, without a row of its own.

        Its order's terms (strategy, market, side...) then fill the rows of that order's
        selected events.

        Raises:
            ValueError: the event is not an order.placed event.
        """
        if event["topic"] != Order.Placed.TOPIC:
            raise ValueError(f"only order.placed events are remembered; {event['topic']} was found")
        self._placed[event["originator_id"]] = _order_fields(event)

    def add(self, event: dict[str, Any]) -> None:
        """Take one selected event, of any topic.

        Order events and fill settlements make rows; events of any other topic are ignored.
        """
        topic = event["topic"]
        if topic in STATUS_BY_TOPIC:
            order_id = event["originator_id"]
            event = _order_fields(event)
            if topic == Order.Placed.TOPIC:
                self._placed[order_id] = event
            self._order_events.setdefault(order_id, []).append(event)
            if topic in FILL_TOPICS:
                self._fills.append(event)
        elif topic == SETTLED_TOPIC:
            self._settled[(event["order_id"], event["trade_id"])] = event
            self._daily_pnl.add(event)

    def tables(self) -> list[SummaryTable]:
        """Return the tables in file order: orders.csv, fills.csv, daily_pnl.csv."""
        orders = [self._order_row(oid, events) for oid, events in self._order_events.items()]
        daily = [_cells(*row) for row in self._daily_pnl.rows()]
        return [
            SummaryTable("orders.csv", ORDER_COLUMNS, orders),
            SummaryTable("fills.csv", FILL_COLUMNS, [self._fill_row(f) for f in self._fills]),
            SummaryTable("daily_pnl.csv", DAILY_PNL_COLUMNS, daily),
        ]

    def _order_row(self, order_id: str, events: list[dict[str, Any]]) -> tuple[str, ...]:
        placed = self._placed.get(order_id, {})
        exchange_order_id = reason = closed_at = closed_at_kst = None
        for event in events:
            reason = _status_reason(event)
            exchange_order_id = event.get("exchange_order_id", exchange_order_id)
            is_closing = event["topic"] in CLOSING_TOPICS
            closed_at = event["occurred_at"] if is_closing else None
            closed_at_kst = event["occurred_at_kst"] if is_closing else None
        fills = [e for e in events if e["topic"] in FILL_TOPICS]
        qty = sum((Decimal(f["qty_btc"]) for f in fills), ZERO)
        funds = sum((Decimal(f["qty_btc"]) * Decimal(f["price_krw"]) for f in fills), ZERO)
        return _cells(
            order_id,
            *(placed.get(name) for name in ("client_order_id", "strategy_id", "market", "side")),
            placed.get("order_type"),
            *(_decimal(placed.get(name)) for name in ("price_krw", "volume_btc", "amount_krw")),
            placed.get("occurred_at"),
            placed.get("occurred_at_kst"),
            STATUS_BY_TOPIC[events[-1]["topic"]],
            reason,
            closed_at,
            closed_at_kst,
            exchange_order_id,
            len(fills),
            qty,
            funds,
            funds / qty if qty else None,
            sum((Decimal(f["fee_krw"]) for f in fills), ZERO),
            placed.get("position"),
            events[0]["position"],
            events[-1]["position"],
        )

    def _fill_row(self, fill: dict[str, Any]) -> tuple[str, ...]:
        order_id = fill["originator_id"]
        placed = self._placed.get(order_id, {})
        settled = self._settled.get((order_id, fill["trade_id"]), {})
        # An order's terms name its strategy, market and side; its settlement repeats them.
        terms = [placed.get(n, settled.get(n)) for n in ("strategy_id", "market", "side")]
        price, qty = Decimal(fill["price_krw"]), Decimal(fill["qty_btc"])
        return _cells(
            fill["occurred_at"],
            fill["occurred_at_kst"],
            settled.get("trading_day"),
            order_id,
            placed.get("client_order_id"),
            fill["trade_id"],
            *terms,
            price,
            qty,
            price * qty,
            Decimal(fill["fee_krw"]),
            _decimal(settled.get("cash_delta_krw")),
            _decimal(settled.get("realised_pnl_krw")),
            fill["topic"] == Order.Filled.TOPIC,
            fill["position"],
        )


def _order_fields(event: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in event.items() if k in ORDER_FIELDS}


def _status_reason(event: dict[str, Any]) -> str | None:
    if event["topic"] == Order.Rejected.TOPIC:
        # As Order.Rejected.apply words the close reason.
        return f"{event['rejected_by']}: {event['reason']}"
    if event["topic"] in (Order.Cancelled.TOPIC, Order.SubmissionFailed.TOPIC):
        return str(event["reason"])
    return None


def _decimal(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def _cells(*values: object) -> tuple[str, ...]:
    return tuple(_cell(value) for value in values)


def _cell(value: object) -> str:
    if type(value) is str:
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return plain_decimal(value)
    return str(value)


def plain_decimal(value: Decimal) -> str:
    """Return `value` in positional notation without trailing zeros ("1E+2" -> "100").

    Unlike `Decimal.normalize`, this never rounds to the context's precision.
    """
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text
