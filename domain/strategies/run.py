"""The StrategyRun aggregate: what a run of the strategies was given, recorded before it decides.

`strategy.run.started` names everything a replay needs besides the code: the strategies with
every parameter resolved, the capital, the fill model, the risk limits, the market and the
candles (range, count and a content hash). `strategy.run.completed` records the replay hash the
run computed over its own decisions, so a later replay can tell a changed log from changed code.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.errors import InvalidRunError, RunAlreadyCompletedError
from domain.events import Cause, LedgerCreated, LedgerEvent, create_aggregate, require_text
from domain.ids import derive_id
from domain.risk.limits import Limits

RUN_MODES = ("backtest", "paper", "live")
LIVE_EXCHANGES = {"paper": ("paper",), "live": ("sandbox", "upbit")}
"""The exchanges a live run of each mode may trade on (paper: the fill model, in process)."""


class StrategyRun(Aggregate):
    """One run of the strategies over a span of candles."""

    class Started(LedgerCreated):
        """A run of the strategies started, with all of its inputs but the candles' rows.

        Version 2 adds the run's risk limits (None: no limit); a version 1 event, recorded
        before runs had limits, reads as a run without limits. Version 3 adds the submit-rate
        limit `max_orders_per_minute`; an older event reads as a run without it.
        """

        TOPIC = "strategy.run.started"
        class_version = 3
        run_id: str
        mode: str
        market: str
        strategies: dict[str, dict[str, str]]
        capital_krw: Decimal
        fee_rate: Decimal
        slippage_bps: Decimal
        max_participation: Decimal | None
        first_candle_at: datetime
        last_candle_at: datetime
        candle_count: int
        candles_sha256: str
        max_order_krw: Decimal | None
        max_exposure_krw: Decimal | None
        daily_loss_krw: Decimal | None
        max_drawdown: Decimal | None
        max_orders_per_minute: int | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            """Read a run recorded before runs had risk limits as a run without limits."""
            for name in ("max_order_krw", "max_exposure_krw", "daily_loss_krw", "max_drawdown"):
                state[name] = None

        @staticmethod
        def upcast_v2_v3(state: dict[str, Any]) -> None:
            """Read a run recorded before the submit-rate limit existed as a run without it."""
            state["max_orders_per_minute"] = None

        @property
        def limits(self) -> Limits:
            """Return the run's risk limits."""
            return Limits.of_event(self)

        def apply(self, run: StrategyRun) -> None:
            """Evolve the run's state by this event."""
            run.run_id = self.run_id
            run.is_completed = False

    class Opened(LedgerCreated):
        """A run of the trading system opened: it decides at every candle from its first on.

        Unlike a backtest, its candles are not known when it starts: they are the market's
        candles as the log records them, minute after minute, from `first_candle_at`.
        """

        TOPIC = "strategy.run.opened"
        run_id: str
        mode: str
        exchange: str
        market: str
        strategies: dict[str, dict[str, str]]
        capital_krw: Decimal
        fee_rate: Decimal
        slippage_bps: Decimal
        max_participation: Decimal | None
        first_candle_at: datetime

        def apply(self, run: StrategyRun) -> None:
            """Evolve the run's state by this event."""
            run.run_id = self.run_id
            run.is_completed = False

    class Completed(LedgerEvent):
        """The run processed its last candle; the replay hash of its decisions."""

        TOPIC = "strategy.run.completed"
        candles_processed: int
        decisions: int
        replay_hash: str

        def apply(self, run: StrategyRun) -> None:
            """Evolve the run's state by this event."""
            run.is_completed = True

    run_id: str
    is_completed: bool

    def __init__(self) -> None:
        """State is set by the Started event; see `start`."""

    @classmethod
    def start(
        cls,
        *,
        run_id: str,
        mode: str,
        market: str,
        strategies: Mapping[str, Mapping[str, str]],
        capital_krw: Decimal,
        fee_rate: Decimal,
        slippage_bps: Decimal,
        max_participation: Decimal | None,
        first_candle_at: datetime,
        last_candle_at: datetime,
        candle_count: int,
        candles_sha256: str,
        cause: Cause,
        limits: Limits | None = None,
    ) -> StrategyRun:
        """Record the start of a run and its inputs.

        Raises:
            MissingTextError: the run id is blank.
            InvalidRunError: an unknown mode, no strategies or no candles.
        """
        name = require_text(run_id, "run id")
        if mode not in RUN_MODES:
            raise InvalidRunError(f"run mode {mode!r} must be one of: {', '.join(RUN_MODES)}")
        if not strategies or candle_count < 1 or last_candle_at < first_candle_at:
            raise InvalidRunError(f"run {name!r} needs at least one strategy and one candle")
        return create_aggregate(
            cls,
            cls.Started,
            id=run_aggregate_id(name),
            run_id=name,
            mode=mode,
            market=market,
            strategies={s: dict(p) for s, p in strategies.items()},
            capital_krw=capital_krw,
            fee_rate=fee_rate,
            slippage_bps=slippage_bps,
            max_participation=max_participation,
            first_candle_at=first_candle_at,
            last_candle_at=last_candle_at,
            candle_count=candle_count,
            candles_sha256=candles_sha256,
            **(limits or Limits()).as_fields(),
            **cause.event_fields(),
        )

    @classmethod
    def open_live(
        cls,
        *,
        run_id: str,
        mode: str,
        exchange: str,
        market: str,
        strategies: Mapping[str, Mapping[str, str]],
        capital_krw: Decimal,
        fee_rate: Decimal,
        slippage_bps: Decimal,
        max_participation: Decimal | None,
        first_candle_at: datetime,
        cause: Cause,
    ) -> StrategyRun:
        """Record the opening of a paper or live run of the trading system, with its inputs.

        Raises:
            MissingTextError: the run id is blank.
            InvalidRunError: a mode other than paper or live, an exchange the mode does not
                trade on, no strategies, or a first candle not on a minute.
        """
        name = require_text(run_id, "run id")
        if mode not in LIVE_EXCHANGES:
            raise InvalidRunError(f"a trading run's mode {mode!r} must be paper or live")
        if exchange not in LIVE_EXCHANGES[mode]:
            allowed = ", ".join(LIVE_EXCHANGES[mode])
            raise InvalidRunError(
                f"a {mode} run trades on {allowed}; exchange {exchange!r} is not one of them"
            )
        if not strategies:
            raise InvalidRunError(f"run {name!r} needs at least one strategy")
        if first_candle_at.second or first_candle_at.microsecond:
            raise InvalidRunError(
                f"first candle {first_candle_at.isoformat()} of run {name!r} is not on a minute"
            )
        return create_aggregate(
            cls,
            cls.Opened,
            id=run_aggregate_id(name),
            run_id=name,
            mode=mode,
            exchange=exchange,
            market=market,
            strategies={s: dict(p) for s, p in strategies.items()},
            capital_krw=capital_krw,
            fee_rate=fee_rate,
            slippage_bps=slippage_bps,
            max_participation=max_participation,
            first_candle_at=first_candle_at,
            **cause.event_fields(),
        )

    def complete(
        self, *, candles_processed: int, decisions: int, replay_hash: str, cause: Cause
    ) -> None:
        """Record the end of the run with the replay hash of its decisions.

        Raises:
            RunAlreadyCompletedError: the run was completed before.
        """
        if self.is_completed:
            raise RunAlreadyCompletedError(f"run {self.run_id!r} is already completed")
        self.trigger_event(
            self.Completed,
            candles_processed=candles_processed,
            decisions=decisions,
            replay_hash=replay_hash,
            **cause.event_fields(),
        )


def run_aggregate_id(run_id: str) -> UUID:
    """Return the id of the StrategyRun aggregate of a run id."""
    return derive_id("run", run_id)
