"""The trading run's processes: strategy, execution and risk, candle by candle from the log.

At each candle the log records for the run's market, in minute order, the loop does what a
backtest does at that candle (`RunEngine.process`, strategies.md "Order of work"): the
fills the candle produced, then the decisions at its close, their orders placed and sent
through the run's `Execution` (the paper fill model, or an exchange). The account's risk
limits at the run's opening are the run's; a change of the risk record made outside the run
(an operator's limits, halt or resume) is applied at the first candle recorded after it.
The same code decides in backtest, paper and live, so a paper run over some candles decides
what a backtest over them decides.

The loop is crash-only: it keeps nothing but the log. After any stop it re-processes the run's
candles from the first one on its `RunReplica` (the account as the run saw it at each candle),
mirroring every command to the log through `ResumableTrading`, which skips what the log already
holds: the strategies' state is rebuilt and nothing is recorded or sent twice. A candle the log
recorded after the loop's first read of it was processed by no earlier process, so there the
look-ups are skipped (`ResumableTrading.is_beyond_log`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from commands.errors import UnknownRunError
from commands.processes.candle_feed import LogCandleFeed
from commands.processes.resumable_trading import ResumableTrading
from commands.processes.risk_directives import OutsideRiskChanges
from commands.processes.run_replica import RunReplica
from commands.run_engine.engine import RunEngine
from commands.run_engine.execution import Execution
from commands.run_engine.run_model import EngineConfig
from domain.candles.candle import Candle
from domain.fills.paper_fill_model import FillModel
from domain.market_point import MarketPointBuilder
from domain.risk.limits import Limits
from domain.strategies.catalog import build_strategies
from domain.strategies.run import StrategyRun


@dataclass
class LoopProgress:
    """What the loop has done since it started."""

    candles: int = 0
    """Candles processed (re-processed ones included)."""
    last_candle: Candle | None = None
    """The last candle processed."""

    @property
    def last_candle_at(self) -> datetime | None:
        """Return the open time of the last candle processed."""
        return self.last_candle.open_time if self.last_candle else None


class TradingLoop:
    """One trading run: its strategies over the log's candles, orders through its execution."""

    def __init__(
        self,
        trading: ResumableTrading,
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
        self.replica = RunReplica(trading, strategies=list(opened.strategies), market=opened.market)
        self.replica.seed(position)
        self.risk_changes = OutsideRiskChanges(
            trading, account=trading.account, run_id=run_id, after=position
        )
        record = self.replica.get_risk_limits()
        limits = record.limits if record is not None else Limits()
        model = FillModel(opened.fee_rate, opened.slippage_bps, opened.max_participation)
        strategies = build_strategies(list(opened.strategies), opened.strategies)
        config = EngineConfig(opened.run_id, opened.capital_krw, model, opened.market, limits)
        self.feed = LogCandleFeed(trading, opened.market, opened.first_candle_at)
        self.engine = RunEngine(
            self.replica, strategies, config, execution(opened, model, self.feed), allocates=False
        )
        self._points = MarketPointBuilder()
        self._on_candle = on_candle
        self.progress = LoopProgress()
        self._log_held: datetime | None = None
        """The close of the newest candle the log held at the first read: no earlier process can
        have processed a later one."""
        self._has_read = False

    def step(self) -> int:
        """Process each candle the log holds that the run has not processed; return how many."""
        candles = self.feed.poll_positioned()
        if not self._has_read:
            self._log_held, self._has_read = self.feed.newest_close, True
        for candle, position in candles:
            directives = self.risk_changes.before(position)
            held = self._log_held
            self.ledger.is_beyond_log = held is None or candle.close_time > held
            self.ledger.begin_batch()  # the candle's commands in as few transactions as can be
            try:
                self.engine.process(self.progress.candles, self._points.add(candle), directives)
                self.ledger.end_batch()
            except BaseException:
                self.ledger.abort_batch()
                raise
            finally:
                self.ledger.is_beyond_log = False
            self.progress.candles += 1
            self.progress.last_candle = candle
            if self._on_candle is not None:
                self._on_candle(candle)
        return len(candles)
