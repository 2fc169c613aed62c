"""The backtest engine: candle by candle, the paper fills first, then the decisions.

strategies.md "Order of work at each candle": first the fills that this candle produces for
orders placed earlier (in placement order), then the strategies' decisions at its close in the
fixed order volatility breakout, grid, turtle. Between the two, the risk monitor marks the book
at the close and applies what crossed a limit (`commands/risk/run_steps.py`); the
orders are placed, sent, filled and ended by `commands/run_engine/order_steps.py`. This module
holds the drivers (one candle at a time, or the tape's fast path) and the run's record.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from uuid import UUID

import numpy as np
import numpy.typing as npt

from commands.risk.run_monitor import RiskMonitor
from commands.risk.run_steps import RiskSteps
from commands.run_engine.engine_state import EngineState
from commands.run_engine.execution import Execution
from commands.run_engine.order_steps import OrderSteps
from commands.run_engine.run_model import IN_MEMORY_ENV, EngineConfig, FillRecord, StrategyTrack
from commands.run_engine.working_orders import WorkingOrder
from commands.trading import Trading
from domain.candles.candle import Candle
from domain.candles.tape import CandleTape
from domain.market_point import MarketPoint, MarketPointBuilder
from domain.replay_hash import replay_digest
from domain.risk.directive import RiskDirective
from domain.risk.trading_state import TradingState
from domain.strategies.base import CancelIntent, DecisionContext, Strategy

__all__ = ["IN_MEMORY_ENV", "RunEngine", "EngineConfig", "FillRecord", "StrategyTrack"]


class RunEngine:
    """Runs strategies over closed 1-minute candles through the ledger.

    `run` takes the candles one by one, as live trading does; `run_tape` visits only the
    candles at which an order can fill or a strategy can act, found by scanning the tape's
    arrays. Both call `process` at a candle the same way, so both append the same events.
    It holds the run's state (`EngineState`) and the two kinds of steps taken on it, order
    steps and risk steps, as collaborators.
    """

    def __init__(
        self,
        trading: Trading,
        strategies: Sequence[Strategy],
        config: EngineConfig,
        execution: Execution | None = None,
        *,
        allocates: bool = True,
    ) -> None:
        self.state = EngineState(trading, strategies, config, execution, allocates=allocates)
        self.orders = OrderSteps(self.state)
        self.risk_steps = RiskSteps(self.state, self.orders)

    # What callers read of the run (its state's fields).
    @property
    def trading(self) -> Trading:
        """The ledger the run records in."""
        return self.state.trading

    @property
    def config(self) -> EngineConfig:
        """The run's id, market, capital, fill model and limits."""
        return self.state.config

    @property
    def tracks(self) -> dict[str, StrategyTrack]:
        """Each strategy's track, in the fixed strategy order."""
        return self.state.tracks

    @property
    def pending(self) -> list[WorkingOrder]:
        """The run's working orders, in placement order."""
        return self.state.pending

    @property
    def risk(self) -> RiskMonitor:
        """The run's risk monitor."""
        return self.state.risk

    @property
    def candles(self) -> int:
        """Candles processed."""
        return self.state.candles

    @property
    def first_time(self) -> datetime | None:
        """The close time of the first candle."""
        return self.state.first_time

    @property
    def last_candle(self) -> Candle | None:
        """The last candle processed."""
        return self.state.last_candle

    @property
    def closes(self) -> npt.NDArray[np.float64]:
        """Every close of the run, as floats (after `run` or `run_tape`)."""
        return self.state.closes

    @property
    def session_end_indexes(self) -> list[int]:
        """The indexes of the candles that completed a session."""
        return self.state.session_end_indexes

    @property
    def records_directives(self) -> bool:
        """Whether outside risk changes given to `process` are recorded (a backtest's)."""
        return self.state.records_directives

    @records_directives.setter
    def records_directives(self, value: bool) -> None:
        self.state.records_directives = value

    def run(self, candles: Iterable[Candle]) -> RunEngine:
        """Process every candle, one at a time (the path live trading takes)."""
        points = MarketPointBuilder()
        closes: list[float] = []
        for index, candle in enumerate(candles):
            point = points.add(candle)
            self.process(index, point)
            closes.append(float(candle.close))
            if point.just_completed is not None:
                self.state.session_end_indexes.append(index)
        self.state.closes = np.array(closes, dtype=np.float64)
        return self

    def run_tape(
        self,
        tape: CandleTape,
        progress: Callable[[int, int], None] | None = None,
        *,
        directives: Mapping[int, Sequence[RiskDirective]] | None = None,
    ) -> RunEngine:
        """Process only the candles where something can happen; identical events to `run`.

        `progress(index, total)` is called after each processed candle, if given.
        `directives` are outside changes of the risk record by the candle index they reach.
        """
        index, n = 0, len(tape)
        wake: dict[UUID, int] = {}
        schedule = directives or {}
        while index < n:
            self.state.touched.clear()
            if self.state.risk.is_watching:
                self.state.risk.catch_up(tape, index, self.state.holdings())
            self.process(index, tape.point(index), schedule.get(index, ()))
            index = self._next_event(index, tape, wake)
            index = min([index, *(k for k in schedule if k > self.state.index)])
            if progress is not None:
                progress(min(index, n), n)
        self.state.candles = n
        self.state.closes = tape.close
        self.state.last_candle = tape.candle(n - 1)
        self.state.session_end_indexes = list(tape.completion_indices)
        return self

    def process(
        self, index: int, point: MarketPoint, directives: Sequence[RiskDirective] = ()
    ) -> None:
        """Process the close of one candle: its fills, the risk monitor, then the decisions.

        `directives` (changes of the risk record made outside the run that reach this candle)
        are applied after the fills, before the risk monitor.
        """
        candle = point.candle
        self.state.index = index
        if index == 0:
            self.state.first_time = candle.close_time
            if self.state.allocates:
                self.risk_steps.allocate(candle)
            else:
                self.state.refresh_books()
        self.orders.resubmit_unacknowledged(candle)
        self.orders.fill(index, candle)
        if directives:
            self.risk_steps.apply_directives(index, candle, directives)
        if self.state.risk.is_watching or self.state.risk.state is TradingState.REDUCING:
            self.risk_steps.monitor(index, candle)
        for track in self.state.tracks.values():
            context = DecisionContext(
                candle=candle,
                session_open=point.session_open,
                session_end=point.session_end,
                completed_bars=point.completed_bars,
                just_completed=point.just_completed,
                book=track.book,
                fee_rate=self.state.config.fill_model.fee_rate,
            )
            for rank, decision in enumerate(track.strategy.decide(context)):
                if isinstance(decision, CancelIntent):
                    self.orders.cancel_all(track, decision.reason, candle)
                else:
                    self.orders.place(track, decision, rank, index, candle)
        self.state.candles = index + 1
        self.state.last_candle = candle

    def equity_curve(self, name: str) -> npt.NDArray[np.float64]:
        """Return the strategy's equity at every close: float(cash) + float(qty) x close."""
        cash, qty = self.state.tracks[name].segments(self.state.candles)
        return cash + qty * self.state.closes

    def position_curve(self, name: str) -> npt.NDArray[np.float64]:
        """Return the BTC held at every close (as floats, for exposure)."""
        return self.state.tracks[name].segments(self.state.candles)[1]

    def final_equity(self, name: str) -> Decimal:
        """Return the exact equity at the last close."""
        book = self.state.tracks[name].book
        close = self.state.last_candle.close if self.state.last_candle else Decimal(0)
        return book.cash_krw + book.qty_btc * close

    @property
    def last_time(self) -> datetime | None:
        """Return the close time of the last candle."""
        return self.state.last_candle.close_time if self.state.last_candle else None

    def replay_hash(self) -> str:
        """Return the replay hash of the decision events this run appended."""
        return self.replay_digest()[0]

    def replay_digest(self) -> tuple[str, int]:
        """Return the replay hash of the decision events this run appended, and their count."""
        notifications = self.state.trading.recorder.select_notifications(start=None, limit=10**9)
        events = (self.state.trading.mapper.to_domain_event(n) for n in notifications)
        return replay_digest((type(e).TOPIC, vars(e)) for e in events)  # type: ignore[attr-defined]

    def _next_event(self, index: int, tape: CandleTape, wake: dict[UUID, int]) -> int:
        candidates = [len(tape)]
        for order in self.state.pending:
            # Keyed by order id: an object's id() may be reused by an order placed later.
            known = wake.get(order.order_id)
            if known is None or known <= index:
                known = order.next_fill(index, tape, self.state.config.fill_model)
                wake[order.order_id] = known
            candidates.append(known)
        fee_rate = self.state.config.fill_model.fee_rate
        for name, track in self.state.tracks.items():
            # A strategy's next wake stands until it is reached or the strategy acted or
            # filled: its state and book are unchanged, and the scan would find it again.
            known = self.state.strategy_wake.get(name)
            if known is None or known <= index or name in self.state.touched:
                known = track.strategy.wake_after(index, tape, track.book, fee_rate)
                self.state.strategy_wake[name] = known
            candidates.append(known)
        after = max(index + 1, min(candidates))
        if self.state.risk.is_watching:  # a limit may cross before anything else happens
            after = self.state.risk.wake_after(index, after, tape, self.state.holdings())
        return after
