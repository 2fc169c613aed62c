"""What a strategy sees at a candle's close, and what it asks for (strategies.md "Common ground").

A strategy is a fold: at each close it gets a `DecisionContext` (the candle, its session, the
complete session bars, its own book) and returns `OrderIntent`s; it learns of its own fills
through `FillNotice`s, delivered before the decisions of the candle that produced them, and of
its orders that ended without filling in full through `OrderEndNotice`s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Protocol

from domain.candles.candle import Candle
from domain.orders.terms import OrderSide, OrderType
from domain.session_bars import SessionBar

if TYPE_CHECKING:
    from domain.candles.tape import CandleTape


@dataclass(frozen=True)
class StrategyBook:
    """A strategy's own figures at a close: cash, cash not locked by bids, BTC held."""

    cash_krw: Decimal
    available_krw: Decimal
    qty_btc: Decimal
    pending_tags: tuple[str, ...]
    """Tags of its orders still NEW, OPEN or PARTIAL, in placement order."""

    @property
    def has_pending(self) -> bool:
        """Return True while one of its orders is still pending."""
        return bool(self.pending_tags)

    def equity_at(self, price: Decimal) -> Decimal:
        """Return cash + held BTC x price (strategies.md "Capital")."""
        return self.cash_krw + self.qty_btc * price


@dataclass(frozen=True)
class DecisionContext:
    """Everything a strategy may use at the close of one candle."""

    candle: Candle
    session_open: Decimal
    """The open of the first candle of the candle's session."""
    session_end: datetime
    completed_bars: Sequence[SessionBar]
    """Every complete session bar so far, oldest first (including one this candle completed)."""
    just_completed: SessionBar | None
    """The session bar this candle completed, if it did."""
    book: StrategyBook
    fee_rate: Decimal

    @property
    def decided_at(self) -> datetime:
        """Return the decision time: the candle's close time."""
        return self.candle.close_time


@dataclass(frozen=True)
class OrderIntent:
    """An order a strategy wants placed, or (side None) its resting orders cancelled."""

    side: OrderSide
    order_type: OrderType
    reference_price_krw: Decimal
    reason: str
    tag: str
    """The strategy's own name for the order, echoed back in fill notices."""
    price_krw: Decimal | None = None
    volume_btc: Decimal | None = None
    amount_krw: Decimal | None = None


def market_intent(
    tag: str, side: OrderSide, reference: Decimal, reason: str, **amounts: Decimal
) -> OrderIntent:
    """Return a market order intent (a bid gives `amount_krw`, an ask `volume_btc`)."""
    return OrderIntent(
        side=side,
        order_type=OrderType.MARKET,
        reference_price_krw=reference,
        reason=reason,
        tag=tag,
        **amounts,
    )


@dataclass(frozen=True)
class CancelIntent:
    """Cancel every resting order of the strategy (the grid's stop loss)."""

    reason: str


@dataclass(frozen=True)
class FillNotice:
    """One fill of one of the strategy's orders."""

    tag: str
    side: OrderSide
    price_krw: Decimal
    qty_btc: Decimal
    is_complete: bool
    """True when this fill completed the order."""


class OrderEnd(Enum):
    """How an order of a strategy ended without filling in full."""

    CANCELLED = "cancelled"
    """The risk monitor cancelled it (a halt or a reduce); fills already made are kept."""
    REJECTED = "rejected"
    """It was refused before it could rest: by a pre-trade risk rule (later: the exchange)."""


@dataclass(frozen=True)
class OrderEndNotice:
    """One of the strategy's orders ended without filling in full, and why.

    Delivered at the close where it happened: a cancellation by the risk monitor before the
    decisions of that close, a refusal right after the decision that placed the order.
    """

    tag: str
    side: OrderSide
    end: OrderEnd
    code: str
    """The broken rule in snake case: `trading_halted` or `trading_reducing` (also for the
    monitor's cancellations), `order_notional_limit`, `exposure_limit`,
    `daily_loss_limit_reached`, `submit_rate_limit`."""
    reason: str
    filled_qty_btc: Decimal
    """BTC the order executed before it ended (0 for a refusal)."""

    @property
    def stops_trading(self) -> bool:
        """Return True when the trading state (HALTED or REDUCING) ended the order."""
        return self.code in ("trading_halted", "trading_reducing")


Decision = OrderIntent | CancelIntent


class Strategy(Protocol):
    """A strategy: a name, a fold over fills, and a decision at each close."""

    name: str

    def on_fill(self, notice: FillNotice) -> None:
        """Learn of a fill of one of its own orders."""

    def on_order_ended(self, notice: OrderEndNotice) -> None:
        """Learn that one of its own orders ended without filling in full."""

    def decide(self, context: DecisionContext) -> list[Decision]:
        """Return what to do at this close (usually nothing)."""

    def wake_after(
        self, index: int, tape: CandleTape, book: StrategyBook, fee_rate: Decimal
    ) -> int:
        """Return the first candle after `index` at which `decide` may act, else len(tape).

        Between now and then `decide` must return nothing and change nothing, given the book;
        a fill changes the book and wakes every strategy anyway.
        """
