"""A resumed sandbox run's exchange, rebuilt from its log (`ledger run --exchange sandbox`).

The sandbox `ledger run --candles` starts keeps nothing across a restart, so a resumed run
would meet an empty exchange: its orders missing, its clock back at the first candle. Before
the run starts, its log's order requests are served again on the new sandbox
(`POST /sandbox/restore`, `adapters/sandbox_exchange/restore.py`): each order the sandbox
acknowledged, placed at the time the sandbox created it (the acknowledgement's time), and each
cancel the run sent (by a strategy or the risk monitor; not the ends the exchange made itself),
at its candle's close; then the clock holds at the close of the newest candle the run can
process. The sandbox fills by the same deterministic rules, so its orders, trades (same ids)
and balances are those the log implies, and the resumed run reconciles clean and goes on.

Not restored: an order whose sending failed without an answer (`order.submission_failed`) and
that the log never saw acknowledged; the resumed run looks it up, does not find it, and sends
it at its next close, as after any lost sending.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from adapters.upbit.order_translation import order_body
from commands.ports import OrderTicket
from commands.processes.candle_feed import LogCandleFeed
from commands.processes.run_opening import opening_books
from commands.risk.run_monitor import MONITOR_ACTOR
from commands.trading import Trading
from domain.orders.order import Order
from domain.orders.terms import OrderSide, OrderType
from domain.strategies.run import StrategyRun

ORDER_TOPICS = [Order.Placed.TOPIC, Order.Accepted.TOPIC, Order.Cancelled.TOPIC]


def restore_requests(
    trading: Trading, opened: StrategyRun.Opened, position: int
) -> tuple[list[dict[str, Any]], datetime]:
    """Return the run's order requests to serve again, in time order, and where the clock holds.

    `position` is the log position of the run's opening: its orders were placed after it.
    """
    placed: dict[UUID, Order.Placed] = {}
    timed: list[tuple[datetime, int, dict[str, Any]]] = []
    for at_position, event in trading.read_events(ORDER_TOPICS, after=position):
        order_id = event.originator_id
        if isinstance(event, Order.Placed):
            if event.strategy_id in opened.strategies and event.market == opened.market:
                placed[order_id] = event
        elif order_id not in placed:
            continue
        elif isinstance(event, Order.Accepted):
            body = dict(order_body(_ticket(order_id, placed[order_id])))
            timed.append((event.occurred_at, at_position, {"place": body}))
        elif isinstance(event, Order.Cancelled) and _is_sent_by_run(event.actor):
            timed.append((event.occurred_at, at_position, {"cancel": str(order_id)}))
    timed.sort(key=lambda item: (item[0], item[1]))
    requests = [{"at": at.isoformat(), **request} for at, _, request in timed]
    return requests, _held_at(trading, opened)


def opening_balances(trading: Trading, opened: StrategyRun.Opened, position: int) -> dict[str, str]:
    """Return what the sandbox's account starts with: what the run's strategies held at opening.

    A run opened on a fresh account: its capital per strategy and no coin. A run opened on
    books an earlier run or an operator left: those (so the exchange holds what the log says
    the run may spend or sell).
    """
    books = opening_books(trading, list(opened.strategies), opened.market, position)
    base = opened.market.split("-")[1]
    krw = sum((cash for cash, _ in books.values()), Decimal(0))
    coin = sum((qty for _, qty in books.values()), Decimal(0))
    return {"KRW": format(krw, "f"), base: format(coin, "f")}


def _ticket(order_id: UUID, placed: Order.Placed) -> OrderTicket:
    # An order is sent whole: the exchange has no fill of it before it acknowledged it.
    order_type = OrderType(placed.order_type)
    side = OrderSide(placed.side)
    is_market_bid = order_type is OrderType.MARKET and side is OrderSide.BID
    return OrderTicket(
        order_id=order_id,
        market=placed.market,
        side=side,
        order_type=order_type,
        price_krw=placed.price_krw if order_type is OrderType.LIMIT else None,
        volume_btc=None if is_market_bid else placed.volume_btc,
        amount_krw=placed.amount_krw if is_market_bid else None,
    )


def _is_sent_by_run(actor: str) -> bool:
    # A strategy's cancel and the risk monitor's reach the exchange; the exchange's own ends
    # (`exchange:<name>`) and an operator's cancel in the log (API, CLI) do not.
    return actor.startswith("strategy:") or actor == MONITOR_ACTOR


def _held_at(trading: Trading, opened: StrategyRun.Opened) -> datetime:
    # The close of the newest candle the run can process (the feed is gap-free): where the
    # paced clock held when the run stopped.
    candles = LogCandleFeed(trading, opened.market, opened.first_candle_at).poll()
    return candles[-1].close_time if candles else opened.first_candle_at
