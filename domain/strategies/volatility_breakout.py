"""Volatility breakout (Larry Williams, 변동성 돌파): strategies.md §1.

Buy at market once the session's price reaches `session_open + k x (prev.high - prev.low)`;
sell everything at market at the close of the session's last minute. Readings of the rules
are in docs/strategies-notes.md.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from domain.candles.tape import CandleTape, slack
from domain.constants import MIN_ORDER_TOTAL_KRW
from domain.indicators.moving_average import noise_ratio, simple_mean
from domain.orders.terms import OrderSide
from domain.session_bars import SessionBar
from domain.sessions import session_end, trading_day
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

NAME = "volatility_breakout"


@dataclass(frozen=True)
class VolatilityBreakoutParams:
    """k, how k is chosen, the noise window, the MA filter window, the share of cash used."""

    k: Decimal = Decimal("0.5")
    k_mode: str = "fixed"
    noise_days: int = 20
    ma_days: int = 0
    allocation: Decimal = Decimal("1.0")

    def __post_init__(self) -> None:
        require(
            self.k_mode in ("fixed", "noise"),
            f"{NAME}.k_mode {self.k_mode!r} must be fixed or noise",
        )
        require(self.k > 0, f"{NAME}.k {self.k} must be greater than 0")
        require(self.noise_days >= 1, f"{NAME}.noise_days {self.noise_days} must be >= 1")
        require(self.ma_days >= 0, f"{NAME}.ma_days {self.ma_days} must be >= 0 (0 = off)")
        require(0 < self.allocation <= 1, f"{NAME}.allocation {self.allocation} must be in (0, 1]")


class VolatilityBreakout:
    """One instance trades one market with its own capital."""

    name = NAME

    def __init__(self, params: VolatilityBreakoutParams | None = None) -> None:
        self.params = params or VolatilityBreakoutParams()
        self.entered_day: date | None = None
        """The session of the last entry (at most one entry per session)."""
        self.holding_day: date | None = None
        """The session at whose end the position now held is sold (its entry's session)."""
        self._exit_day: date | None = None
        self._count = 0
        self._targets: dict[int, Decimal | None] = {}

    def on_fill(self, notice: FillNotice) -> None:
        """Nothing to remember: the book tells what is held."""

    def on_order_ended(self, notice: OrderEndNotice) -> None:
        """Read an order that risk ended (docs/strategies-notes.md "Volatility breakout").

        An entry that bought nothing leaves the strategy flat, and the session's entry is spent;
        one that bought part holds that part until the session's end. An exit that did not sell
        everything falls due again at the end of the next session.
        """
        if notice.side is OrderSide.BID:
            if notice.filled_qty_btc == 0:
                self.holding_day = None
            return
        assert self._exit_day is not None  # an ask is only ever an exit
        self.holding_day = self._exit_day + timedelta(days=1)

    def target(self, session_open: Decimal, bars: Sequence[SessionBar]) -> Decimal | None:
        """Return the session's breakout target, or None when no entry is allowed in it.

        `bars` are the complete session bars before the session. None also when the MA
        filter forbids entries in the session (a constant of the session).
        """
        if not bars or not self._ma_allows(session_open, bars):
            return None
        prev = bars[-1]
        k = self.params.k
        if self.params.k_mode == "noise":
            days = self.params.noise_days
            noise = [noise_ratio(b.open, b.high, b.low, b.close) for b in bars[-days:]]
            mean = simple_mean(noise, days)
            if mean is None:  # fewer than noise_days bars: no entry (clarification 8)
                return None
            k = mean
        return session_open + k * (prev.high - prev.low)

    def wake_after(
        self, index: int, tape: CandleTape, book: StrategyBook, fee_rate: Decimal
    ) -> int:
        """Return the next candle that ends the session of the position, or that breaks out."""
        if book.has_pending:
            return len(tape)  # a fill will wake it
        if book.qty_btc > 0:
            if self.holding_day is None:
                return index + 1
            return max(
                index + 1,
                tape.session_last_index(
                    tape.session_of(index) + (self.holding_day - tape.open_time(index).date()).days
                ),
            )
        session = tape.session_of(index + 1)
        while index + 1 < len(tape):
            first = max(index + 1, tape.session_first_index[session])
            last = tape.session_last_index(session)  # entries never at the last minute
            target = self._session_target(tape, session)
            if target is not None and tape.open_time(first).date() != self.entered_day:
                hit = tape.scan(first, _reaching(tape, float(target) - slack(float(target))))
                if hit < min(last, len(tape)):
                    return hit
            index, session = last, session + 1
        return len(tape)

    def _session_target(self, tape: CandleTape, session: int) -> Decimal | None:
        if session not in self._targets:
            first = tape.session_first_index[session]
            self._targets[session] = self.target(tape.candle(first).open, tape.bars_before(first))
        return self._targets[session]

    def decide(self, context: DecisionContext) -> list[Decision]:
        """Exit at the session's end, or enter on the breakout."""
        book, candle = context.book, context.candle
        if book.has_pending:
            return []
        if book.qty_btc > 0:
            return self._exit(context)
        day = trading_day(candle.open_time)
        if self.entered_day == day or candle.close_time >= context.session_end:
            return []
        target = self.target(context.session_open, context.completed_bars)
        if target is None or candle.high < target:
            return []
        amount = self.params.allocation * book.available_krw / (1 + context.fee_rate)
        if amount < MIN_ORDER_TOTAL_KRW:
            return []
        self.entered_day = self.holding_day = day
        return [
            self._intent(
                OrderSide.BID, max(target, candle.open), "breakout entry", amount_krw=amount
            )
        ]

    def _exit(self, context: DecisionContext) -> list[Decision]:
        if self.holding_day is not None and context.candle.close_time < session_end(
            self.holding_day
        ):
            return []
        qty = context.book.qty_btc
        if qty * context.candle.close < MIN_ORDER_TOTAL_KRW:
            return []
        self.holding_day = None
        self._exit_day = trading_day(context.candle.open_time)
        return [
            self._intent(OrderSide.ASK, context.candle.close, "session end exit", volume_btc=qty)
        ]

    def _ma_allows(self, session_open: Decimal, bars: Sequence[SessionBar]) -> bool:
        days = self.params.ma_days
        if days == 0:
            return True
        mean = simple_mean([bar.close for bar in bars], days)
        return mean is not None and session_open > mean

    def _intent(
        self, side: OrderSide, reference: Decimal, reason: str, **amounts: Decimal
    ) -> OrderIntent:
        self._count += 1
        return market_intent(f"{NAME}-{self._count}", side, reference, reason, **amounts)


def _reaching(tape: CandleTape, level: float) -> Callable[[slice], npt.NDArray[np.bool_]]:
    def reached(window: slice) -> npt.NDArray[np.bool_]:
        return tape.high[window] >= level

    return reached
