"""Pre-trade risk rules: the trading state, per-order notional, exposure, daily loss, submit rate.

The same rules guard every order, whoever places it (API, CLI, strategies, replay).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from domain.errors import (
    DailyLossLimitReachedError,
    ExposureLimitError,
    OrderNotionalLimitError,
    SubmitRateLimitError,
    TradingHaltedError,
    TradingReducingError,
)
from domain.orders.terms import OrderSide
from domain.risk.limits import SUBMIT_RATE_WINDOW, Limits
from domain.risk.trading_state import TradingState

PRE_TRADE_DENIALS = (
    TradingHaltedError,
    TradingReducingError,
    OrderNotionalLimitError,
    ExposureLimitError,
    DailyLossLimitReachedError,
    SubmitRateLimitError,
)
"""The refusals of `check_order`: a strategy's order refused by one is recorded as denied."""


@dataclass(frozen=True)
class OrderRiskContext:
    """What the rules need to know about a new order and its strategy."""

    strategy_id: str
    side: OrderSide
    notional_krw: Decimal
    exposure_krw: Decimal
    """The strategy's exposure before this order: cost basis held + KRW reserved by bids."""
    daily_net_pnl_krw: Decimal
    """The account's realised P&L net of fees in the current trading day."""
    trading_day: str
    recent_orders: int = 0
    """Orders the account placed in the `SUBMIT_RATE_WINDOW` before this one (domain time)."""


def check_order(state: TradingState, limits: Limits, order: OrderRiskContext) -> None:
    """Refuse the order if a rule forbids it.

    Raises:
        TradingHaltedError: trading is HALTED.
        TradingReducingError: trading is REDUCING and the order is a bid.
        OrderNotionalLimitError: the order's notional is above the per-order maximum.
        ExposureLimitError: a bid would take the strategy's exposure above its maximum.
        DailyLossLimitReachedError: the day's loss reached the limit and the order is a bid.
        SubmitRateLimitError: the account already placed its maximum of orders in the trailing
            minute (not while REDUCING for an ask: reducing exposure is never throttled).
    """
    is_bid = order.side is OrderSide.BID
    if state is TradingState.HALTED:
        raise TradingHaltedError("trading is HALTED: no order may be placed until it is resumed")
    if state is TradingState.REDUCING and is_bid:
        raise TradingReducingError(
            "trading is REDUCING: only asks that reduce exposure may be placed; a bid was refused"
        )
    if limits.max_order_krw is not None and order.notional_krw > limits.max_order_krw:
        raise OrderNotionalLimitError(
            f"order notional {order.notional_krw:,} KRW is above the per-order limit "
            f"{limits.max_order_krw:,} KRW"
        )
    if is_bid:
        _check_bid(limits, order)
    # Last: an order another rule refuses does not count against the rate, and is named for
    # that rule. While REDUCING, the asks that reduce (the monitor's liquidation among them)
    # must go out, so the rate does not hold them back; they still count for later orders.
    if state is TradingState.REDUCING:
        return
    limit = limits.max_orders_per_minute
    if limit is not None and order.recent_orders >= limit:
        seconds = int(SUBMIT_RATE_WINDOW.total_seconds())
        raise SubmitRateLimitError(
            f"the account placed {order.recent_orders} orders in the last {seconds} seconds, "
            f"at its limit of {limit} orders per minute: this order was refused; orders may be "
            f"placed again once the oldest of them is {seconds} seconds old"
        )


def _check_bid(limits: Limits, order: OrderRiskContext) -> None:
    if limits.max_exposure_krw is not None:
        after = order.exposure_krw + order.notional_krw
        if after > limits.max_exposure_krw:
            raise ExposureLimitError(
                f"strategy {order.strategy_id}'s exposure would be {after:,} KRW "
                f"({order.exposure_krw:,} held or reserved + {order.notional_krw:,} for this "
                f"order), above the limit {limits.max_exposure_krw:,} KRW"
            )
    if limits.daily_loss_krw is not None and -order.daily_net_pnl_krw >= limits.daily_loss_krw:
        raise DailyLossLimitReachedError(
            f"the realised loss of trading day {order.trading_day} is "
            f"{-order.daily_net_pnl_krw:,} KRW, at or above the daily loss limit "
            f"{limits.daily_loss_krw:,} KRW: no bids until the next session (09:00 KST)"
        )
