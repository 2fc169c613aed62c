"""`ledger replay`: the recorded inputs of each run in the log, through the current code.

A run is replayed whole, because a strategy's state at any candle depends on every candle
before it in the run. Its inputs are the `strategy.run.started` event (strategies with every
parameter, capital, fill model, risk limits, market, candle span and hash) and the candles the
log held before that event. The replayed decisions are compared, event by event, with the decisions
the log records for the run; the first difference is named.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from commands.candle_history import candle_tape_from_log
from commands.risk.run_monitor import monitor_flow
from commands.run_engine.engine import RunEngine
from commands.run_engine.run_model import EngineConfig
from commands.scratch_ledger import ScratchLedger
from commands.trading import Trading
from domain.event_names import EVENT_CLASS_BY_BUS_NAME
from domain.fills.paper_fill_model import FillModel
from domain.ids import order_id, risk_limits_id
from domain.orders.order import Order
from domain.replay_diff import Decision, DecisionDifference, first_difference
from domain.replay_hash import canonical_hash, is_decision_topic
from domain.strategies.catalog import build_strategies
from domain.strategies.run import StrategyRun
from domain.strategies.signal import Signal

DECISION_TOPICS = sorted(t for t in EVENT_CLASS_BY_BUS_NAME if is_decision_topic(t))


@dataclass(frozen=True)
class RecordedRun:
    """A run as the log records it: its start, its position there, and its completion."""

    started: StrategyRun.Started
    position: int
    completed: StrategyRun.Completed | None = None
    completed_position: int | None = None

    @property
    def run_id(self) -> str:
        """Return the run's id."""
        return self.started.run_id


@dataclass
class RunReplay:
    """The outcome of replaying one run."""

    run: RecordedRun
    recorded_hash: str = ""
    recorded_decisions: int = 0
    replay_hash: str = ""
    replayed_decisions: int = 0
    candles_match: bool = True
    problems: list[str] = field(default_factory=list)
    difference: DecisionDifference | None = None

    @property
    def is_identical(self) -> bool:
        """Return True when the replay decided exactly what the log records, from its inputs."""
        return not self.problems and self.difference is None

    def as_dict(self) -> dict[str, Any]:
        """Return the outcome as plain values (for JSON)."""
        started = self.run.started
        return {
            "run_id": self.run.run_id,
            "mode": started.mode,
            "market": started.market,
            "started_at_position": self.run.position,
            "first_candle_at": started.first_candle_at.isoformat(),
            "last_candle_at": started.last_candle_at.isoformat(),
            "candles": started.candle_count,
            "recorded_decisions": self.recorded_decisions,
            "replayed_decisions": self.replayed_decisions,
            "recorded_hash": self.recorded_hash,
            "replay_hash": self.replay_hash,
            "completed_hash": self.run.completed.replay_hash if self.run.completed else None,
            "identical": self.is_identical,
            "problems": list(self.problems),
            "first_difference": self.difference.describe() if self.difference else None,
        }


def recorded_runs(
    trading: Trading,
    *,
    run_ids: list[str] | None = None,
    positions: tuple[int | None, int | None] = (None, None),
    times: tuple[datetime | None, datetime | None] = (None, None),
) -> list[RecordedRun]:
    """Return the runs in the log, oldest first, that match every filter given.

    `positions` keeps the runs that started at a log position in [from, to); `times` keeps
    the runs whose candles overlap [from, to).
    """
    topics = [StrategyRun.Started.TOPIC, StrategyRun.Completed.TOPIC]
    runs: dict[str, RecordedRun] = {}
    by_aggregate: dict[Any, str] = {}
    for position, event in trading.read_events(topics):
        if isinstance(event, StrategyRun.Started):
            runs[event.run_id] = RecordedRun(event, position)
            by_aggregate[event.originator_id] = event.run_id
        elif isinstance(event, StrategyRun.Completed) and event.originator_id in by_aggregate:
            run_id = by_aggregate[event.originator_id]
            runs[run_id] = RecordedRun(runs[run_id].started, runs[run_id].position, event, position)
    lo, hi = positions
    start, end = times
    return [
        run
        for run in runs.values()
        if (run_ids is None or run.run_id in run_ids)
        and (lo is None or run.position >= lo)
        and (hi is None or run.position < hi)
        and (start is None or run.started.last_candle_at + timedelta(minutes=1) > start)
        and (end is None or run.started.first_candle_at < end)
    ]


def replay_run(
    trading: Trading,
    run: RecordedRun,
    progress: Callable[[int, int], None] | None = None,
    *,
    scratch: ScratchLedger,
) -> RunReplay:
    """Replay one run from its recorded inputs and compare its decisions with the log's."""
    outcome = RunReplay(run)
    recorded = recorded_decisions(trading, run)
    outcome.recorded_decisions = len(recorded)
    outcome.recorded_hash = _hash_of(recorded)
    if run.completed is not None and run.completed.replay_hash != outcome.recorded_hash:
        outcome.problems.append(
            f"the log's {len(recorded):,} decisions of run {run.run_id} hash to "
            f"{outcome.recorded_hash[:16]}…, but the run recorded {run.completed.replay_hash[:16]}…"
            f" ({run.completed.decisions:,} decisions) when it completed: the log was changed "
            "after the run"
        )
    started = run.started
    tape = candle_tape_from_log(
        trading,
        started.market,
        start=started.first_candle_at,
        end=started.last_candle_at + timedelta(minutes=1),
        before_position=run.position,
    )
    if tape is None:
        outcome.problems.append(
            f"the log holds no {started.market} candles of run {run.run_id} "
            f"({started.first_candle_at.isoformat()} to {started.last_candle_at.isoformat()})"
        )
        outcome.candles_match = False
        return outcome
    digest = tape.content_sha256()
    if len(tape) != started.candle_count or digest != started.candles_sha256:
        outcome.candles_match = False
        outcome.problems.append(
            f"the candles the log holds for run {run.run_id} are not the ones it was given: "
            f"{len(tape):,} minutes hashing to {digest[:16]}…, the run recorded "
            f"{started.candle_count:,} hashing to {started.candles_sha256[:16]}…"
        )
    replayed = _rerun(run, tape, progress, scratch)
    outcome.replayed_decisions = len(replayed)
    outcome.replay_hash = _hash_of(replayed)
    outcome.difference = first_difference(recorded, replayed)
    return outcome


def recorded_decisions(trading: Trading, run: RecordedRun) -> list[Decision]:
    """Return the run's decision events in log order.

    They are its signals and the events of the orders they placed, and its risk monitor's:
    the breaches and trading state changes on the run's risk record (its account is the run),
    and the orders the monitor placed (correlated with the run's monitor flow).
    """
    run_id = run.run_id
    risk_record = risk_limits_id(run_id)
    flow = monitor_flow(run_id)
    signals: set[str] = set()
    orders: set[Any] = set()
    found: list[Decision] = []
    stop = run.completed_position
    for position, event in trading.read_events(DECISION_TOPICS, after=run.position, upto=stop):
        if isinstance(event, Signal.Created):
            if event.run_id != run_id:
                continue
            signals.add(str(event.originator_id))
        elif isinstance(event, Order.Placed):
            if event.client_order_id not in signals and event.correlation_id != flow:
                continue
            orders.add(order_id(event.client_order_id))
        elif event.originator_id not in orders and event.originator_id != risk_record:
            continue
        found.append(Decision.of(type(event).TOPIC, vars(event), position))  # type: ignore[attr-defined]
    return found


def _rerun(
    run: RecordedRun,
    tape: Any,
    progress: Callable[[int, int], None] | None,
    scratch: ScratchLedger,
) -> list[Decision]:
    started = run.started
    model = FillModel(started.fee_rate, started.slippage_bps, started.max_participation)
    strategies = build_strategies(list(started.strategies), started.strategies)
    replica = scratch(run.run_id, model.fee_rate)
    try:
        config = EngineConfig(
            run.run_id, started.capital_krw, model, started.market, started.limits
        )
        RunEngine(replica, strategies, config).run_tape(tape, progress)
        return [
            Decision.of(type(event).TOPIC, vars(event))  # type: ignore[attr-defined]
            for _, event in replica.read_events(DECISION_TOPICS)
        ]
    finally:
        replica.close()


def _hash_of(decisions: list[Decision]) -> str:
    return canonical_hash(d.canonical for d in decisions)
