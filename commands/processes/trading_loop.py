"""The trading run's process: strategy, execution and risk, candle by candle from the log.

At each candle the log records for the run's market, in minute order, the loop does what a
backtest does at that candle (`RunEngine.process`, strategies.md "Order of work"): the fills
the candle produced, then the decisions at its close, their orders placed through the same
use cases as every other command, on the log's own aggregates. The account's risk limits at
the run's opening are the run's; a change of the risk record made outside the run (an
operator's limits, halt or resume) reaches the run at the first candle recorded after it, and
an operator's orders and capital show in the strategies' books at the next candle. The same
code decides in backtest, paper and live, so a paper run decides what a backtest decides.

A candle is one transaction: its events, the run's position in the log and the run's state
after it (`commands/processes/run_state.py`) are saved together, in the account's writer
turn (a candle that changed nothing is saved with a later one). Only then are the candle's
orders sent to an exchange, and their answers recorded in a second transaction with the state
after them. A process that
stops anywhere resumes after the last recorded candle, from its state: a killed run ends with
the events of an uninterrupted one, and an order whose answer was not recorded is looked up by
its identifier before it is sent again. One process holds a run at a time (its lease,
`adapters/postgres/run_lease.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from eventsourcing.persistence import IntegrityError

from commands.errors import ConcurrencyConflictError, UnknownRunError
from commands.processes.candle_feed import LogCandleFeed
from commands.processes.run_opening import opening_risk
from commands.processes.run_state import RunParts, decode, encode
from commands.risk.outside_changes import OutsideRiskChanges
from commands.run_engine.engine import RunEngine
from commands.run_engine.execution import Execution
from commands.run_engine.run_model import EngineConfig
from commands.run_progress import RUN_PROGRESS_KWARG, RunProgress
from commands.trading import Trading
from domain.candles.candle import Candle
from domain.fills.paper_fill_model import FillModel
from domain.market_point import MarketPointBuilder
from domain.risk.limits import Limits
from domain.risk.trading_state import TradingState
from domain.strategies.catalog import build_strategies
from domain.strategies.run import StrategyRun

RECORD_EVERY = 60
"""A run records its progress at least every this many candles, events or none."""
CONFLICT_LIMIT = 10
"""A candle decided again this many times in a row, each losing its race, stops the run."""


@dataclass
class LoopProgress:
    """What the run has done: its candles so far (a restarted run goes on counting)."""

    candles: int = 0
    """Candles processed since the run opened."""
    last_candle: Candle | None = None
    """The last candle processed."""
    resumed_at: int | None = None
    """The candle count this process resumed at (None: the run started here)."""

    @property
    def last_candle_at(self) -> datetime | None:
        """Return the open time of the last candle processed."""
        return self.last_candle.open_time if self.last_candle else None


class TradingLoop:
    """One trading run: its strategies over the log's candles, orders through its execution."""

    def __init__(
        self,
        trading: Trading,
        run_id: str,
        execution: Callable[[StrategyRun.Opened, FillModel, LogCandleFeed], Execution],
        *,
        on_candle: Callable[[Candle], None] | None = None,
    ) -> None:
        opened = trading.get_run_opened(run_id)
        if opened is None:
            raise UnknownRunError(f"no trading run {run_id!r} is recorded; open it first")
        position = trading.run_opened_position(run_id)
        assert position is not None  # the run was found above
        self.opened = opened
        self.ledger = trading
        model = FillModel(opened.fee_rate, opened.slippage_bps, opened.max_participation)
        self.feed = LogCandleFeed(trading, opened.market, opened.first_candle_at)
        self.execution = execution(opened, model, self.feed)
        recorded = trading.read_run_progress(run_id)
        # A run's risk starts as the account's was at its opening; a resumed run's is restored.
        limits, state = (
            (Limits(), TradingState.ACTIVE)
            if recorded is not None
            else opening_risk(trading, position)
        )
        strategies = build_strategies(list(opened.strategies), opened.strategies)
        config = EngineConfig(opened.run_id, opened.capital_krw, model, opened.market, limits)
        engine = RunEngine(trading, strategies, config, self.execution, allocates=False)
        engine.records_directives = False
        engine.risk.state = state
        risk_changes = OutsideRiskChanges(
            trading, account=trading.account, run_id=run_id, after=position
        )
        self._parts = RunParts(engine, MarketPointBuilder(), self.feed, risk_changes, 0, None)
        self.progress = LoopProgress()
        if recorded is not None:
            decode(recorded.state, self._parts, run_id)
            self.progress = LoopProgress(
                self._parts.candles, self._parts.last_candle, self._parts.candles
            )
        self._recorded_state = recorded.state if recorded is not None else encode(self._parts)
        self._on_candle = on_candle
        self._must_take_answers = recorded is not None
        self._recorded_position = recorded.position if recorded is not None else 0
        self._recorded_candles = self._parts.candles

    @property
    def engine(self) -> RunEngine:
        """Return the run's engine."""
        return self._parts.engine

    def step(self) -> int:
        """Process each candle the log holds that the run has not processed; return how many.

        A resumed run first sends (looked up first) the orders it placed and has no answer
        for, and records the answers, before it decides anything. A candle whose save lost a
        race with another writer of the account is decided again, on the log as it is now.
        """
        if self._must_take_answers:
            self._must_take_answers = False
            self._take_answers_on_resume()
        processed = conflicts = 0
        self.feed.read()
        while (ready := self.feed.take_ready()) is not None:
            candle, position = ready
            try:
                self._process(candle, position)
            except IntegrityError:
                conflicts += 1
                if conflicts >= CONFLICT_LIMIT:
                    raise ConcurrencyConflictError(
                        f"run {self.opened.run_id!r}: other writers of the account changed "
                        f"the same records {conflicts} times in a row; nothing of the candle "
                        f"at {candle.open_time.isoformat()} was recorded; try again"
                    ) from None
                self.feed.read()  # from the last recorded candle again
                continue
            conflicts = 0
            processed += 1
            if self._on_candle is not None:
                self._on_candle(candle)
        return processed

    def _process(self, candle: Candle, position: int) -> None:
        parts = self._parts
        directives = parts.risk_changes.before(position)

        def decide() -> None:
            point = parts.points.add(candle)
            parts.engine.process(parts.candles, point, directives)
            parts.candles += 1
            parts.last_candle = candle

        self._save_candle(decide, position)
        if self.execution.send_held(parts.engine.pending):  # the log holds them now
            self._save_candle(lambda: parts.engine.orders.take_answers(candle), position)
        self.progress.candles, self.progress.last_candle = parts.candles, candle

    def _take_answers_on_resume(self) -> None:
        engine, last = self._parts.engine, self._parts.last_candle
        if last is None or all(o.is_acknowledged for o in engine.pending):
            return
        position = self._recorded_position
        self._save_candle(lambda: engine.orders.take_answers(last), position)
        if self.execution.send_held(engine.pending):
            self._save_candle(lambda: engine.orders.take_answers(last), position)

    def _save_candle(self, work: Callable[[], None], position: int) -> None:
        # The work's events, the run's position and its state after the work, in one
        # transaction. A candle that changed nothing in the log is recorded with a later one
        # (at most RECORD_EVERY candles later): a restart decides such candles again, and
        # nothing again. When anything fails, the run is put back as last recorded.
        parts = self._parts
        try:
            with self.ledger.holding_saves() as held:
                work()
            if held.events or parts.candles - self._recorded_candles >= RECORD_EVERY:
                state = encode(parts)
                progress = RunProgress(self.opened.run_id, position, parts.candles, state)
                with self.ledger.account_turn():  # the account's writers take turns
                    self.ledger.save(
                        *held.events, *held.aggregates.values(), **{RUN_PROGRESS_KWARG: progress}
                    )
                self._recorded_state, self._recorded_position = state, position
                self._recorded_candles = parts.candles
        except BaseException:
            self._restore()
            raise

    def _restore(self) -> None:
        # The run's parts as after the last recorded candle (or as opened, before the first).
        decode(self._recorded_state, self._parts, self.opened.run_id)
        self.progress.candles = self._parts.candles
        self.progress.last_candle = self._parts.last_candle
