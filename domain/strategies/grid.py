"""Grid: resting limit buys on price lines, each sold one line higher (strategies.md §3).

Lines are computed exactly and rounded down to the tick once; every line below the top one is
empty, buying or holding. At every close, after that candle's fills, lines are visited from
the lowest. Readings of the rules are in docs/strategies-notes.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from domain.candles.tape import CandleTape, slack
from domain.constants import MIN_ORDER_TOTAL_KRW
from domain.money import floor8
from domain.orders.terms import OrderSide, OrderType
from domain.sessions import trading_day
from domain.strategies.base import (
    CancelIntent,
    Decision,
    DecisionContext,
    FillNotice,
    OrderEndNotice,
    OrderIntent,
    StrategyBook,
)
from domain.strategies.parameters import require
from domain.ticks import round_down_to_tick

NAME = "grid"
EMPTY, BUYING, HOLDING = "empty", "buying", "holding"


@dataclass(frozen=True)
class GridParams:
    """The price range, number of lines, spacing, KRW per buy and optional stop loss."""

    lower: Decimal | None = None
    upper: Decimal | None = None
    levels: int = 10
    spacing: str = "arithmetic"
    order_krw: Decimal = Decimal("100000")
    stop_loss_pct: Decimal | None = None
    range_pct: Decimal = Decimal("0.10")
    """When lower and upper are omitted: +/- this fraction around the first close."""

    def __post_init__(self) -> None:
        require(self.levels >= 2, f"{NAME}.levels {self.levels} must be at least 2")
        require(
            self.spacing in ("arithmetic", "geometric"),
            f"{NAME}.spacing {self.spacing!r} must be arithmetic or geometric",
        )
        require(self.order_krw > 0, f"{NAME}.order_krw {self.order_krw} must be > 0")
        if self.lower is not None or self.upper is not None:
            require(
                self.lower is not None and self.upper is not None,
                f"{NAME}: give both lower and upper, or neither",
            )
            assert self.lower is not None and self.upper is not None
            require(
                0 < self.lower < self.upper,
                f"{NAME}.lower {self.lower} must be > 0 and below upper {self.upper}",
            )
        if self.stop_loss_pct is not None:
            require(
                0 < self.stop_loss_pct < 1,
                f"{NAME}.stop_loss_pct {self.stop_loss_pct} must be a fraction in (0, 1)",
            )
        require(0 < self.range_pct < 1, f"{NAME}.range_pct {self.range_pct} must be in (0, 1)")


def grid_lines(
    lower: Decimal, upper: Decimal, levels: int, spacing: str, at: datetime
) -> tuple[Decimal, ...]:
    """Return the line prices P_0..P_{levels-1}, exact then rounded down to the tick once.

    Clarification 9: arithmetic `lower + (upper - lower) x i / (levels - 1)`, geometric
    `lower x (upper / lower) ^ (i / (levels - 1))`, with P_0 = lower and the top = upper.
    """
    last = levels - 1
    exact: list[Decimal] = []
    for i in range(levels):
        if i == 0:
            price = lower
        elif i == last:
            price = upper
        elif spacing == "arithmetic":
            price = lower + (upper - lower) * i / last
        else:
            price = lower * (upper / lower) ** (Decimal(i) / last)
        exact.append(price)
    return tuple(round_down_to_tick(price, at) for price in exact)


class Grid:
    """One instance trades one market with its own capital."""

    name = NAME

    def __init__(self, params: GridParams | None = None) -> None:
        self.params = params or GridParams()
        self.lower: Decimal | None = self.params.lower
        self.upper: Decimal | None = self.params.upper
        self.lines: tuple[Decimal, ...] = ()
        self.states: list[str] = []
        self.filled_qty: list[Decimal] = []
        """Per line: BTC bought by its BUY so far (the SELL offers what the BUY filled)."""
        self.complete: dict[str, bool] = {}
        self.is_stopped = False
        self.paused_day: date | None = None
        """The trading day in which a BUY was refused by a limit: no new BUY that day."""
        self._must_cancel = False
        self._day: date | None = None
        self._count = 0

    def wake_after(
        self, index: int, tape: CandleTape, book: StrategyBook, fee_rate: Decimal
    ) -> int:
        """Return the next close at which a line can buy or the stop loss fires."""
        if not self.lines:
            return index + 1
        if self.is_stopped:
            return index + 1 if self._must_cancel else len(tape)
        assert self.lower is not None and self.upper is not None
        level = None
        for i, state in enumerate(self.states):
            price = self.lines[i]
            total = floor8(self.params.order_krw / price) * price
            if (
                state == EMPTY
                and total >= MIN_ORDER_TOTAL_KRW
                and (total * (1 + fee_rate) <= book.available_krw)
            ):
                level = float(price)
                break
        stop = self.params.stop_loss_pct
        stop_level = None if stop is None else float(self.lower * (1 - stop))
        low_f, high_f = float(self.lower), float(self.upper)

        def buys(window: slice) -> npt.NDArray[np.bool_]:
            assert level is not None
            close = tape.close[window]
            return (
                (close > level - slack(level))
                & (close >= low_f - slack(low_f))
                & (close <= high_f + slack(high_f))
            )

        def stops(window: slice) -> npt.NDArray[np.bool_]:
            assert stop_level is not None
            return tape.close[window] < stop_level + slack(stop_level)

        found = len(tape)
        if level is not None:
            found = tape.scan(self._buys_from(index, tape), buys)
        if stop_level is not None:
            found = min(found, tape.scan(index + 1, stops))
        return found

    def _buys_from(self, index: int, tape: CandleTape) -> int:
        if self.paused_day != tape.open_time(index).date():
            return index + 1
        session = tape.session_of(index) + 1  # paused: new BUYs from the next session on
        starts = tape.session_first_index
        return starts[session] if session < len(starts) else len(tape)

    def on_fill(self, notice: FillNotice) -> None:
        """Track each line's order: what its BUY filled, and whether its order completed."""
        self.paused_day = None  # a fill changes the book: a refused BUY may fit again
        if notice.tag.startswith(f"{NAME}-stop-"):
            return  # the stop-loss sale: the grid is stopped for good
        line = int(notice.tag.rsplit("-", 2)[1])
        if notice.side is OrderSide.BID:
            self.filled_qty[line] += notice.qty_btc
        if notice.is_complete:
            self.complete[notice.tag] = True

    def on_order_ended(self, notice: OrderEndNotice) -> None:
        """Read an order that risk ended (docs/strategies-notes.md "Grid").

        A BUY refused by a limit (per-order notional, exposure, daily loss, submit rate) empties
        its line and pauses new BUYs until the grid's next fill or the next session. Anything
        else (an order ended by a halt or a reduce, any order refused while HALTED or REDUCING,
        a refused SELL) stops the grid for good, as its stop loss does: its resting orders are
        cancelled at its next close and it places nothing more.
        """
        is_line_buy = notice.side is OrderSide.BID and not notice.tag.startswith(f"{NAME}-stop-")
        if is_line_buy and not notice.stops_trading and notice.filled_qty_btc == 0:
            self.states[int(notice.tag.rsplit("-", 2)[1])] = EMPTY
            self.paused_day = self._day
            return
        if not self.is_stopped:
            self.is_stopped = self._must_cancel = True

    def decide(self, context: DecisionContext) -> list[Decision]:
        """Stop out below the stop line; else move each line along empty -> buying -> holding."""
        candle = context.candle
        if not self.lines:
            self._configure(context)
        assert self.lower is not None and self.upper is not None
        self._day = trading_day(candle.open_time)
        if self.is_stopped:
            if self._must_cancel:
                self._must_cancel = False
                if context.book.has_pending:
                    return [CancelIntent(reason="grid stopped by risk")]
            return []
        stop = self.params.stop_loss_pct
        if stop is not None and candle.close < self.lower * (1 - stop):
            return self._stop_out(context)
        decisions: list[Decision] = []
        available = context.book.available_krw
        can_buy = self.lower <= candle.close <= self.upper and self.paused_day != self._day
        for i in range(len(self.lines) - 1):
            if self.states[i] == BUYING and self.complete.pop(self._tag(i, "buy"), False):
                self.states[i] = HOLDING
                decisions.append(
                    self._order(OrderSide.ASK, i + 1, i, "sell", volume_btc=self.filled_qty[i])
                )
            if self.states[i] == HOLDING and self.complete.pop(self._tag(i, "sell"), False):
                self.states[i] = EMPTY
            if self.states[i] == EMPTY and can_buy and self.lines[i] < candle.close:
                price = self.lines[i]
                qty = floor8(self.params.order_krw / price)
                total = qty * price
                cost = total * (1 + context.fee_rate)
                if total >= MIN_ORDER_TOTAL_KRW and cost <= available:
                    available -= cost
                    self.states[i] = BUYING
                    self.filled_qty[i] = Decimal(0)
                    decisions.append(self._order(OrderSide.BID, i, i, "buy", volume_btc=qty))
        return decisions

    def _configure(self, context: DecisionContext) -> None:
        if self.lower is None or self.upper is None:
            close, pct = context.candle.close, self.params.range_pct
            self.lower, self.upper = close * (1 - pct), close * (1 + pct)
        self.lines = grid_lines(
            self.lower,
            self.upper,
            self.params.levels,
            self.params.spacing,
            context.candle.open_time,
        )
        self.states = [EMPTY] * (len(self.lines) - 1)
        self.filled_qty = [Decimal(0)] * (len(self.lines) - 1)

    def _stop_out(self, context: DecisionContext) -> list[Decision]:
        self.is_stopped = True
        decisions: list[Decision] = [CancelIntent(reason="grid stop loss")]
        qty = context.book.qty_btc
        if qty * context.candle.close >= MIN_ORDER_TOTAL_KRW:
            self._count += 1
            decisions.append(
                OrderIntent(
                    side=OrderSide.ASK,
                    order_type=OrderType.MARKET,
                    reference_price_krw=context.candle.close,
                    reason="grid stop loss",
                    tag=f"{NAME}-stop-{self._count}",
                    volume_btc=qty,
                )
            )
        return decisions

    def _order(
        self, side: OrderSide, price_line: int, line: int, kind: str, *, volume_btc: Decimal
    ) -> OrderIntent:
        price = self.lines[price_line]
        return OrderIntent(
            side=side,
            order_type=OrderType.LIMIT,
            reference_price_krw=price,
            reason=f"grid line {line} {kind}",
            tag=self._tag(line, kind),
            price_krw=price,
            volume_btc=volume_btc,
        )

    def _tag(self, line: int, kind: str) -> str:
        return f"{NAME}-{line}-{kind}"
