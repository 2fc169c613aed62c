"""The port's order tickets as Upbit order bodies, and Upbit's order objects as `ExchangeOrder`.

Upbit gives a fee per order (`paid_fee`), not per trade (upbit-api.md §5.6), so each trade's fee
is derived as `volume x price x fee_rate`, unrounded: the paper fill model's formula
(domain/fills/paper_fill_model.py), with the account's rate for the order's side from
`orders/chance`. When the order has ended (`done`, or `cancel` after fills) the trades' fees
must add up to `paid_fee` exactly; an answer that does not add up is refused with a named
error and nothing is taken from it.
"""

from __future__ import annotations

from decimal import Decimal
from uuid import UUID

from adapters.upbit.parsing import UpbitOrder, UpbitTrade
from commands.errors import ExchangeUnavailableError
from commands.ports import ExchangeOrder, ExchangeOrderState, ExchangeTrade, OrderTicket
from domain.orders.terms import OrderSide, OrderType

STATES = {
    "wait": ExchangeOrderState.WAIT,
    "watch": ExchangeOrderState.WAIT,  # a reserved order waiting for its trigger: still working
    "done": ExchangeOrderState.DONE,
    "cancel": ExchangeOrderState.CANCEL,
    "prevented": ExchangeOrderState.CANCEL,  # ended by self-match prevention
}


class MalformedExchangeAnswerError(ExchangeUnavailableError):
    """The exchange's answer is malformed or contradicts itself; nothing was taken from it."""


class PaidFeeMismatchError(MalformedExchangeAnswerError):
    """An ended order's trades, at the account's fee rate, do not add up to its `paid_fee`."""


def order_body(ticket: OrderTicket) -> list[tuple[str, str]]:
    """Return the POST /v1/orders body of `ticket`, in Upbit's field order, its id as identifier.

    Limit: price and volume; market bid: `ord_type=price` with the KRW amount as `price`;
    market ask: `ord_type=market` with the volume. Numbers are plain decimal strings.

    Raises:
        ValueError: the ticket lacks an amount its type needs, or carries one it must not.
    """
    side = ticket.side.value
    if ticket.order_type is OrderType.LIMIT:
        amounts = [("volume", ticket.volume_btc), ("price", ticket.price_krw)]
        unused, ord_type = ticket.amount_krw, "limit"
    elif ticket.side is OrderSide.BID:
        amounts = [("price", ticket.amount_krw)]
        unused, ord_type = ticket.price_krw or ticket.volume_btc, "price"
    else:
        amounts = [("volume", ticket.volume_btc)]
        unused, ord_type = ticket.price_krw or ticket.amount_krw, "market"
    if unused is not None:
        raise ValueError(f"ticket {ticket} carries an amount a {describe(ticket)} order takes not")
    body = [("market", ticket.market), ("side", side)]
    body += [(key, plain_decimal(value, key, ticket)) for key, value in amounts]
    return [*body, ("ord_type", ord_type), ("identifier", str(ticket.order_id))]


def describe(ticket: OrderTicket) -> str:
    """Return the ticket's terms in a few words (`bid limit 0.0005 BTC at 10000000 KRW`)."""
    head = f"{ticket.side.value} {ticket.order_type.value}"
    if ticket.order_type is OrderType.LIMIT:
        return f"{head} {ticket.volume_btc} BTC at {ticket.price_krw} KRW"
    if ticket.side is OrderSide.BID:
        return f"{head} for {ticket.amount_krw} KRW"
    return f"{head} {ticket.volume_btc} BTC"


def plain_decimal(value: Decimal | None, key: str, ticket: OrderTicket) -> str:
    """Return a positive amount as Upbit's decimal string: no exponent, no trailing zeros."""
    if value is None or not value.is_finite() or value <= 0:
        raise ValueError(f"{key} {value} of a {describe(ticket)} order is not a positive amount")
    return format(value.normalize(), "f")


def exchange_order(order: UpbitOrder, order_id: UUID, fee_rate: Decimal | None) -> ExchangeOrder:
    """Return Upbit's order object as the port's, each trade with its fee at `fee_rate`.

    `order` must come with its trades (GET /v1/order) whenever it has any; `fee_rate` is the
    account's rate for the order's side, needed only when there are trades.

    Raises:
        MalformedExchangeAnswerError: another identifier, an unknown state, trades that do not
            add up to the executed volume or count, or a duplicate trade id.
        PaidFeeMismatchError: the order has ended and its trades' fees are not its paid_fee.
    """
    where = f"order {order.uuid} (identifier {order_id})"
    if order.identifier is not None and order.identifier != str(order_id):
        raise MalformedExchangeAnswerError(
            f"{where} was answered with identifier {order.identifier}"
        )
    state = STATES.get(order.state)
    if state is None:
        raise MalformedExchangeAnswerError(f"{where} is in state {order.state!r}, unknown here")
    if len(order.trades) != order.trades_count:
        raise MalformedExchangeAnswerError(
            f"{where} lists {len(order.trades)} trades but its trades_count is {order.trades_count}"
        )
    executed = sum((t.volume for t in order.trades), Decimal(0))
    if executed != order.executed_volume:
        raise MalformedExchangeAnswerError(
            f"{where}: its trades add up to {executed} BTC but its executed_volume is "
            f"{order.executed_volume}"
        )
    if len({t.trade_id for t in order.trades}) != len(order.trades):
        raise MalformedExchangeAnswerError(f"{where} lists a trade id twice")
    trades = tuple(_trade(t, where, fee_rate) for t in order.trades)
    fees = sum((t.fee_krw for t in trades), Decimal(0))
    if state is not ExchangeOrderState.WAIT and fees != order.paid_fee:
        raise PaidFeeMismatchError(
            f"{where} has ended with paid_fee {order.paid_fee} KRW, but its trades at the "
            f"fee rate {fee_rate} come to {fees} KRW"
        )
    return ExchangeOrder(
        order_id=order_id,
        exchange_order_id=order.uuid,
        market=order.market,
        state=state,
        created_at=order.created_at,
        trades=trades,
    )


def _trade(trade: UpbitTrade, where: str, fee_rate: Decimal | None) -> ExchangeTrade:
    if fee_rate is None:
        raise ValueError(f"{where} has trades: its fee rate is needed")
    if trade.price <= 0 or trade.volume <= 0:
        raise MalformedExchangeAnswerError(
            f"{where}: trade {trade.trade_id} has price {trade.price} and volume {trade.volume}"
        )
    return ExchangeTrade(
        trade_id=trade.trade_id,
        price_krw=trade.price,
        qty_btc=trade.volume,
        fee_krw=trade.volume * trade.price * fee_rate,
        executed_at=trade.created_at,
    )
