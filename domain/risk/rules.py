"""Pre-trade risk rules: the trading state, per-order notional, exposure and daily loss.

The same rules guard every order, whoever places it (API, CLI, strategies, replay).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from domain.errors import (
    DailyLossLimitReachedError,
    ExposureLimitError,
    OrderNotionalLimitError,
    TradingHaltedError,
    TradingReducingError,
)
from domain.orders.terms import OrderSide
from domain.risk.limits import Limits, TradingState

PRE_TRADE_DENIALS = (
    TradingHaltedError,
    TradingReducingError,
    OrderNotionalLimitError,
    ExposureLimitError,
    DailyLossLimitReachedError,
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


def check_order(state: TradingState, limits: Limits, order: OrderRiskContext) -> None:
    """Refuse the order if a rule forbids it.

    Raises:
        TradingHaltedError: trading is HALTED.
        TradingReducingError: trading is REDUCING and the order is a bid.
        OrderNotionalLimitError: the order's notional is above the per-order maximum.
        ExposureLimitError: a bid would take the strategy's exposure above its maximum.
        DailyLossLimitReachedError: the day's loss reached the limit and the order is a bid.
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
    if not is_bid:
        return
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
