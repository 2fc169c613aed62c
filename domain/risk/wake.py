"""The risk monitor on a candle tape: the next close where a marked limit could cross.

Between two closes at which anything happens (a fill, a decision), every strategy's cash and
BTC are constant, so the account's equity is linear in the close price. A float scan over the
tape's closes finds the first close at which a marked limit could cross (daily loss, drawdown)
or a strategy's exposure could cross its limit either way, with margins far wider than the
float error; the exact Decimal rules (`domain/risk/monitor.py`) then decide at that close. The
closes skipped on the way are passed to the `EquityWatch` exactly (`catch_up`), so a fast run
marks the same peaks and day starts as one that marks every close.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from domain.candles.tape import MINUTES_PER_DAY, CandleTape, slack
from domain.risk.limits import Limits
from domain.risk.monitor import EquityWatch, marked_equity, watches_equity
from domain.risk.trading_state import TradingState

FIRST_WINDOW = 256


def next_crossing(
    index: int,
    stop: int,
    tape: CandleTape,
    holdings: Mapping[str, tuple[float, float]],
    watch: EquityWatch,
    limits: Limits,
    state: TradingState,
) -> int:
    """Return the first close in (index, stop) where a marked limit could cross, else `stop`.

    `holdings` is each strategy's (cash, BTC held) as floats, constant after the close at
    `index` (marked already); `stop` is the next close at which something else happens.
    """
    if state is TradingState.HALTED or not watches_equity(limits):
        return stop
    cash = sum(c for c, _ in holdings.values())
    qty = sum(q for _, q in holdings.values())
    if qty == 0:
        return stop  # equity is constant and nothing is exposed: no limit can move
    scan = _Scan(index, tape, holdings, watch, limits, state, cash, qty)
    start, size = index + 1, FIRST_WINDOW
    while start < stop:
        end = min(stop, start + size)
        hits = np.flatnonzero(scan.hits(slice(start, end)))
        if hits.size:
            return start + int(hits[0])
        start, size = end, size * 8
    return stop


class _Scan:
    def __init__(
        self,
        index: int,
        tape: CandleTape,
        holdings: Mapping[str, tuple[float, float]],
        watch: EquityWatch,
        limits: Limits,
        state: TradingState,
        cash: float,
        qty: float,
    ) -> None:
        self.index, self.tape, self.holdings, self.watch = index, tape, holdings, watch
        self.limits, self.state, self.cash, self.qty = limits, state, cash, qty
        self.peak = float(watch.peak) if watch.peak is not None else -np.inf
        self.firsts = np.asarray(tape.session_first_index, dtype=np.int64)

    def hits(self, window: slice) -> npt.NDArray[np.bool_]:
        closes = self.tape.close[window]
        equity = self.cash + self.qty * closes
        margin = slack(abs(self.cash) + self.qty * float(closes.max())) + 1e-6
        found = np.zeros(closes.shape, dtype=bool)
        limits = self.limits
        if limits.daily_loss_krw is not None:
            found |= self._day_start(window) - equity >= float(limits.daily_loss_krw) - margin
        if self.state is TradingState.ACTIVE and limits.max_drawdown is not None:
            peaks = np.maximum(np.maximum.accumulate(equity), self.peak)
            self.peak = float(peaks[-1])
            found |= equity <= (1 - float(limits.max_drawdown)) * peaks + margin
        if limits.max_exposure_krw is not None:
            cap = float(limits.max_exposure_krw)
            edge = slack(cap) + 1e-6
            for name, (_, held) in self.holdings.items():
                is_above = name in self.watch.above_exposure
                if held == 0 and not is_above:
                    continue
                exposure = held * closes
                found |= exposure <= cap + edge if is_above else exposure > cap - edge
        return found

    def _day_start(self, window: slice) -> npt.NDArray[np.float64]:
        # A close in the marked close's session keeps the watch's day start; a later session
        # starts from the equity at the close before its first candle (the book is constant).
        tape = self.tape
        minutes = tape.start_minute + np.arange(window.start, window.stop)
        firsts = self.firsts[minutes // MINUTES_PER_DAY - tape.first_day]
        later = self.cash + self.qty * tape.close[np.maximum(firsts - 1, 0)]
        current = float(self.watch.day_start) if self.watch.day_start is not None else 0.0
        return np.where(firsts <= self.index, current, later)


def catch_up(
    watch: EquityWatch,
    tape: CandleTape,
    start: int,
    stop: int,
    holdings: Mapping[str, tuple[Decimal, Decimal]],
) -> None:
    """Pass the watch over the closes [start, stop), exactly, for a constant book.

    `holdings` is each strategy's (cash, BTC held) as Decimals, in the fixed strategy order;
    the closes must be ones at which `next_crossing` found nothing.
    """
    if start >= stop:
        return
    pairs = list(holdings.values())
    last = marked_equity(pairs, tape.candle(stop - 1).close)
    peak = last
    if any(qty for _, qty in pairs):
        closes = tape.close[start:stop]
        top = float(closes.max())
        for j in np.flatnonzero(closes >= top - slack(top)).tolist():
            # equity rises with the close (BTC held >= 0): the peak is at the highest close
            peak = max(peak, marked_equity(pairs, tape.candle(start + j).close))
    first = tape.session_first_index[tape.session_of(stop - 1)]
    if first - 1 >= start:
        day_start = marked_equity(pairs, tape.candle(first - 1).close)
    else:
        assert watch.last is not None  # the close before `start` was marked
        day_start = watch.last
    watch.pass_over(
        last_open_time=tape.open_time(stop - 1),
        last_equity_krw=last,
        peak_equity_krw=peak,
        day_start_equity_krw=day_start,
    )
