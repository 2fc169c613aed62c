"""The rules a fill keeps against its order: within what remains, on the right side of the limit.

Pure functions of the order's state and the fill; `Order.record_fill` calls them before any
event exists, so a refused fill records nothing.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal

from domain.errors import FeeAboveRateError, FillBeyondLimitPriceError
from domain.money import floor8
from domain.orders.description import OrderView
from domain.orders.fill import Fill
from domain.orders.terms import OrderSide


def fill_completion(order: OrderView, fill: Fill) -> tuple[bool, str | None]:
    """Return whether the fill completes the order, and why it is too large (if it is).

    An amount order (market bid) completes once its remaining KRW buys less than 1e-8 BTC at
    the fill price; a volume order completes when its whole volume has executed.
    """
    if order.amount_krw is not None:
        remaining = order.amount_krw - order.executed_funds_krw
        if fill.funds_krw > remaining:
            return True, (
                f"fill {fill.trade_id} of {fill.funds_krw:,} KRW exceeds the {remaining:,} KRW "
                f"that remains of order {order.id}'s {order.amount_krw:,} KRW amount"
            )
        return floor8((remaining - fill.funds_krw) / fill.price_krw) == 0, None
    assert order.volume_btc is not None  # every order has an amount or a volume
    remaining = order.volume_btc - order.executed_volume_btc
    if fill.qty_btc > remaining:
        return True, (
            f"fill {fill.trade_id} of {fill.qty_btc} BTC exceeds the {remaining} BTC that "
            f"remains of order {order.id}'s {order.volume_btc} BTC"
        )
    return fill.qty_btc == remaining, None


def require_within_limit(order: OrderView, fill: Fill) -> None:
    """Refuse a limit order's fill on the wrong side of its price.

    Raises:
        FillBeyondLimitPriceError: a bid filled above its limit, or an ask below it.
    """
    limit = order.price_krw
    if limit is None:
        return
    if (order.side is OrderSide.BID and fill.price_krw > limit) or (
        order.side is OrderSide.ASK and fill.price_krw < limit
    ):
        bound = "above" if order.side is OrderSide.BID else "below"
        raise FillBeyondLimitPriceError(
            f"fill {fill.trade_id} at {fill.price_krw:,} KRW is {bound} the limit price "
            f"{limit:,} KRW of {order.side.value} order {order.id}; an exchange never fills "
            f"a limit {order.side.value} there"
        )


def require_fee_within_rate(fill: Fill, fee_rate: Decimal) -> None:
    """Refuse a fee above the fill's total x the account's fee rate, rounded up to the won.

    The exchange charges `total x rate` (upbit-api.md §7.2), unrounded, and the paper fill
    model and the gateways derive fees so (docs/execution-gateway.md); rounding the bound up to
    the next won leaves room for a fee someone rounded to the won, and none for a mistyped one.
    A smaller fee (a promotion, a rebate) is accepted.

    Raises:
        FeeAboveRateError: the fee is above the bound.
    """
    exact = fill.funds_krw * fee_rate
    bound = exact.to_integral_value(rounding=ROUND_CEILING)
    if fill.fee_krw > bound:
        raise FeeAboveRateError(
            f"fill fee {fill.fee_krw} KRW is above {bound:,} KRW ({fill.funds_krw:,} KRW x fee "
            f"rate {fee_rate} = {exact} KRW, rounded up to the won) on trade {fill.trade_id}"
        )
