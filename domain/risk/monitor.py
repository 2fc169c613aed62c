"""The risk monitor's rules: portfolio limits checked on the marked book at each candle close.

At every close the account's book is marked at the close price. A limit crossed on that close
is a breach, effective on that candle:

- **daily loss**: equity at the trading day's start (the previous session's last close) minus
  equity now, at or above `daily_loss_krw` -> HALT (cancel open orders, place nothing);
- **drawdown**: 1 - equity / peak equity, at or above `max_drawdown` -> REDUCE (only orders
  that lower exposure; the positions are liquidated);
- **exposure**: a strategy's BTC marked at the close above `max_exposure_krw` -> BLOCK_BIDS
  (recorded once when crossed; the pre-trade rule refuses its bids while above).

`EquityWatch` is the fold that remembers the peak, the day's start and the strategies above
their exposure limit; `assess` is a pure function of it, the limits and the trading state.
`marked_equity` is the one way the account's equity is computed, so every path that marks the
book (each close, or a scan's catch-up over skipped closes) gets the same Decimal.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from domain.risk.breach import Breach, BreachAction, LimitCode
from domain.risk.limits import Limits
from domain.risk.trading_state import TradingState
from domain.sessions import trading_day


@dataclass(frozen=True)
class EquityMark:
    """The account's book marked at one candle's close."""

    candle_open_time: datetime
    equity_krw: Decimal
    day_start_equity_krw: Decimal
    peak_equity_krw: Decimal
    exposure_krw: tuple[tuple[str, Decimal], ...]
    """(strategy, BTC held x close) per strategy."""
    newly_exposed: tuple[str, ...] = ()
    """Strategies whose exposure went above the limit at this close."""

    @property
    def trading_day(self) -> date:
        """Return the trading day of the candle (by its open time)."""
        return trading_day(self.candle_open_time)


def marked_equity(holdings: Iterable[tuple[Decimal, Decimal]], close: Decimal) -> Decimal:
    """Return the account's equity: the sum over its strategies of cash + BTC held x close."""
    return sum((cash + qty * close for cash, qty in holdings), Decimal(0))


def watches_equity(limits: Limits) -> bool:
    """Return True when a limit is checked on the marked book (daily loss, drawdown, exposure)."""
    return (
        limits.daily_loss_krw is not None
        or limits.max_drawdown is not None
        or limits.max_exposure_krw is not None
    )


@dataclass
class EquityWatch:
    """The fold over closes that the rules need: peak, the day's start, exposures above limit."""

    peak: Decimal | None = None
    day: date | None = None
    day_start: Decimal | None = None
    last: Decimal | None = None
    above_exposure: set[str] = field(default_factory=set)

    def mark(
        self,
        candle_open_time: datetime,
        equity_krw: Decimal,
        exposure_krw: dict[str, Decimal],
        max_exposure_krw: Decimal | None,
    ) -> EquityMark:
        """Take the equity and exposures at a close; return the mark the rules read."""
        day = trading_day(candle_open_time)
        if day != self.day:
            self.day = day
            self.day_start = self.last if self.last is not None else equity_krw
        self.peak = equity_krw if self.peak is None else max(self.peak, equity_krw)
        self.last = equity_krw
        above = {
            name
            for name, value in exposure_krw.items()
            if max_exposure_krw is not None and value > max_exposure_krw
        }
        newly = tuple(sorted(above - self.above_exposure))
        self.above_exposure = above
        assert self.day_start is not None
        return EquityMark(
            candle_open_time=candle_open_time,
            equity_krw=equity_krw,
            day_start_equity_krw=self.day_start,
            peak_equity_krw=self.peak,
            exposure_krw=tuple(sorted(exposure_krw.items())),
            newly_exposed=newly,
        )

    def pass_over(
        self,
        *,
        last_open_time: datetime,
        last_equity_krw: Decimal,
        peak_equity_krw: Decimal,
        day_start_equity_krw: Decimal,
    ) -> None:
        """Take closes that were not marked one by one, where no limit could have crossed.

        A scan proved that at none of them a breach was found or an exposure crossed its limit
        either way; so only the peak, the day's start and the last equity move, as `mark`
        would have moved them. `day_start_equity_krw` is the equity at the close before the
        first candle of the last skipped close's trading day (used when that day is new).
        """
        day = trading_day(last_open_time)
        if day != self.day:
            self.day = day
            self.day_start = day_start_equity_krw
        self.peak = peak_equity_krw if self.peak is None else max(self.peak, peak_equity_krw)
        self.last = last_equity_krw


def assess(limits: Limits, state: TradingState, mark: EquityMark) -> list[Breach]:
    """Return the limits this close crossed, in the order daily loss, drawdown, exposure.

    A HALTED account is not assessed (nothing is left to stop); drawdown is assessed only while
    ACTIVE (REDUCING is already its action).
    """
    if state is TradingState.HALTED:
        return []
    at = mark.candle_open_time
    found: list[Breach] = []
    loss = mark.day_start_equity_krw - mark.equity_krw
    if limits.daily_loss_krw is not None and loss >= limits.daily_loss_krw:
        found.append(
            Breach(LimitCode.DAILY_LOSS, "", loss, limits.daily_loss_krw, BreachAction.HALT, at)
        )
    if (
        state is TradingState.ACTIVE
        and limits.max_drawdown is not None
        and mark.peak_equity_krw > 0
    ):
        drawdown = 1 - mark.equity_krw / mark.peak_equity_krw
        if drawdown >= limits.max_drawdown:
            found.append(
                Breach(
                    LimitCode.DRAWDOWN, "", drawdown, limits.max_drawdown, BreachAction.REDUCE, at
                )
            )
    if limits.max_exposure_krw is not None:
        exposures = dict(mark.exposure_krw)
        for name in mark.newly_exposed:
            found.append(
                Breach(
                    LimitCode.EXPOSURE,
                    name,
                    exposures[name],
                    limits.max_exposure_krw,
                    BreachAction.BLOCK_BIDS,
                    at,
                )
            )
    return found
