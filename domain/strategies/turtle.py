"""Turtle: Donchian breakout with ATR sizing, pyramiding and a stop (strategies.md §2).

It decides once per session, at the close of the candle that completes the session bar; its
orders are market orders. Readings of the rules are in docs/strategies-notes.md.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from decimal import Decimal

from domain.candles.tape import CandleTape
from domain.constants import MIN_ORDER_TOTAL_KRW
from domain.indicators.atr import WilderAtr
from domain.indicators.donchian import highest_high, lowest_low
from domain.money import floor8
from domain.orders.terms import OrderSide
from domain.session_bars import SessionBar
from domain.strategies.base import (
    Decision,
    DecisionContext,
    FillNotice,
    OrderEndNotice,
    OrderIntent,
    StrategyBook,
    market_intent,
)
from domain.strategies.parameters import require

NAME = "turtle"


@dataclass(frozen=True)
class TurtleParams:
    """Channel windows, ATR window, risk per unit, pyramid and stop distances (in N)."""

    entry_days: int = 20
    exit_days: int = 10
    atr_days: int = 20
    risk_per_unit: Decimal = Decimal("0.01")
    max_units: int = 4
    pyramid_step_n: Decimal = Decimal("0.5")
    stop_n: Decimal = Decimal("2.0")

    def __post_init__(self) -> None:
        for name in ("entry_days", "exit_days", "atr_days", "max_units"):
            require(getattr(self, name) >= 1, f"{NAME}.{name} {getattr(self, name)} must be >= 1")
        require(
            0 < self.risk_per_unit <= 1,
            f"{NAME}.risk_per_unit {self.risk_per_unit} must be in (0, 1]",
        )
        require(self.pyramid_step_n > 0, f"{NAME}.pyramid_step_n {self.pyramid_step_n} must be > 0")
        require(self.stop_n > 0, f"{NAME}.stop_n {self.stop_n} must be > 0")


class Turtle:
    """One instance trades one market with its own capital."""

    name = NAME

    def __init__(self, params: TurtleParams | None = None) -> None:
        self.params = params or TurtleParams()
        self.atr = WilderAtr(self.params.atr_days)
        self.bars_seen = 0
        self.units = 0
        """Entry orders placed since the position was last flat."""
        self.n_entry: Decimal | None = None
        self.last_fill: Decimal | None = None
        """Price of the most recent fill of an entry order (clarification 7)."""
        self._n_entry_before: Decimal | None = None
        self._count = 0

    def wake_after(
        self, index: int, tape: CandleTape, book: StrategyBook, fee_rate: Decimal
    ) -> int:
        """Return the next candle that completes a session bar: the turtle's only decisions."""
        done = bisect_right(tape.completion_indices, index)
        return tape.completion_indices[done] if done < len(tape.completion_indices) else len(tape)

    def on_fill(self, notice: FillNotice) -> None:
        """Remember the price of the latest entry fill."""
        if notice.side is OrderSide.BID:
            self.last_fill = notice.price_krw

    def on_order_ended(self, notice: OrderEndNotice) -> None:
        """Read an order that risk ended (docs/strategies-notes.md "Turtle").

        A BUY that bought nothing is not a unit: the count and `N_entry` go back to what they
        were before it was decided. A BUY that bought part counts as a unit. A SELL that did
        not sell everything leaves a position that the next complete bar decides about again.
        """
        if notice.side is OrderSide.BID and notice.filled_qty_btc == 0:
            self.units -= 1
            self.n_entry = self._n_entry_before

    def decide(self, context: DecisionContext) -> list[Decision]:
        """At a session bar's completion: update N, then exit, stop, pyramid or enter."""
        bar = context.just_completed
        if bar is None:
            return []
        n = self.atr.add(bar.high, bar.low, bar.close)
        self.bars_seen += 1
        p = self.params
        history = list(context.completed_bars[:-1])  # the previous bars, today excluded
        if n is None or self.bars_seen < max(p.entry_days, p.atr_days) + 1:
            return []
        if context.book.has_pending:
            return []
        close, book = bar.close, context.book
        if book.qty_btc == 0:
            self.units, self.n_entry = 0, None
            channel = highest_high([b.high for b in history], p.entry_days)
            if channel is not None and close > channel:
                return self._buy(context, bar, n, "donchian entry")
            return []
        exit_channel = lowest_low([b.low for b in history], p.exit_days)
        if exit_channel is not None and close < exit_channel:
            return self._sell(context, bar, "donchian exit")
        assert self.last_fill is not None and self.n_entry is not None  # set by the entry
        if close <= self.last_fill - p.stop_n * self.n_entry:
            return self._sell(context, bar, "stop")
        if self.units < p.max_units and close >= self.last_fill + p.pyramid_step_n * self.n_entry:
            return self._buy(context, bar, n, "pyramid")
        return []

    def _buy(
        self, context: DecisionContext, bar: SessionBar, n: Decimal, reason: str
    ) -> list[Decision]:
        book, close = context.book, bar.close
        unit_qty = floor8(self.params.risk_per_unit * book.equity_at(close) / n)
        amount = min(unit_qty * close, book.available_krw / (1 + context.fee_rate))
        if amount < MIN_ORDER_TOTAL_KRW:
            return []
        self.units += 1
        self._n_entry_before, self.n_entry = self.n_entry, n
        return [self._intent(OrderSide.BID, close, reason, amount_krw=amount)]

    def _sell(self, context: DecisionContext, bar: SessionBar, reason: str) -> list[Decision]:
        qty = context.book.qty_btc
        if qty * bar.close < MIN_ORDER_TOTAL_KRW:
            return []
        return [self._intent(OrderSide.ASK, bar.close, reason, volume_btc=qty)]

    def _intent(
        self, side: OrderSide, reference: Decimal, reason: str, **amounts: Decimal
    ) -> OrderIntent:
        self._count += 1
        return market_intent(f"{NAME}-{self._count}", side, reference, reason, **amounts)
