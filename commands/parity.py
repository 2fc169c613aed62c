"""`ledger parity`: a trading run's decisions against a backtest of the candles it saw.

The candles a trading run saw are the log's candles of its market from its first candle on.
A backtest with the run's inputs (strategies and parameters, capital, paper fill model, run
id) over those candles, up to the end of the range, decides what the run should have decided.
The backtest starts from the account as the run opened on it (the strategies' books, which
an earlier run or an operator may have left other than the run's capital; the risk record's
limits and trading state), and a change of the risk record made outside the run (an
operator's) reaches the backtest at the candle it reached the run. The two are compared as
parity lines (`domain/parity.py`: flow by flow, without the exchange's own ids) over the flows
decided in the range, each up to the range's end.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from commands.candle_history import candle_tape_from_log
from commands.processes.candle_feed import LogCandleFeed
from commands.processes.run_opening import seed_account
from commands.risk.outside_changes import OutsideRiskChanges
from commands.risk.run_monitor import monitor_flow
from commands.run_engine.engine import RunEngine
from commands.run_engine.run_model import EngineConfig
from commands.scratch_ledger import ScratchLedger
from commands.trading import Trading
from domain.event_names import EVENT_CLASS_BY_BUS_NAME
from domain.fills.paper_fill_model import FillModel
from domain.parity import parity_lines
from domain.replay_hash import canonical_hash, is_decision_topic
from domain.risk.directive import RiskDirective
from domain.risk.limits import Limits
from domain.strategies.catalog import build_strategies
from domain.strategies.run import StrategyRun
from domain.strategies.signal import Signal

DECISION_TOPICS = sorted(t for t in EVENT_CLASS_BY_BUS_NAME if is_decision_topic(t))
Event = tuple[str, dict[str, Any]]


@dataclass
class RunParity:
    """The outcome of comparing one trading run with its backtest over a range."""

    run_id: str
    start: datetime
    end: datetime
    candles: int = 0
    system_lines: list[str] = field(default_factory=list)
    backtest_lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    note: str | None = None
    """What an equal outcome means when there was nothing to compare (no candle)."""

    @property
    def system_hash(self) -> str:
        """Return the hash of the run's parity lines in the range."""
        return canonical_hash(self.system_lines)

    @property
    def backtest_hash(self) -> str:
        """Return the hash of the backtest's parity lines in the range."""
        return canonical_hash(self.backtest_lines)

    @property
    def is_equal(self) -> bool:
        """Return True when the run decided exactly what the backtest decides."""
        return not self.problems and self.system_lines == self.backtest_lines

    def first_difference(self) -> str | None:
        """Return the first line that differs, in words, or None."""
        pairs = zip(self.system_lines, self.backtest_lines, strict=False)
        for n, (ours, theirs) in enumerate(pairs, 1):
            if ours != theirs:
                return f"decision {n}: the run logged {ours}; the backtest decided {theirs}"
        if len(self.system_lines) != len(self.backtest_lines):
            n = min(len(self.system_lines), len(self.backtest_lines)) + 1
            longer = self.system_lines if len(self.system_lines) > n - 1 else self.backtest_lines
            who = "the run logged" if longer is self.system_lines else "the backtest decided"
            return f"decision {n}: only {who} {longer[n - 1]}"
        return None

    def as_dict(self) -> dict[str, Any]:
        """Return the outcome as plain values (for JSON)."""
        return {
            "run_id": self.run_id,
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "candles": self.candles,
            "decisions": len(self.system_lines),
            "backtest_decisions": len(self.backtest_lines),
            "system_hash": self.system_hash,
            "backtest_hash": self.backtest_hash,
            "equal": self.is_equal,
            "problems": list(self.problems),
            "note": self.note,
            "first_difference": self.first_difference(),
        }


def trading_runs(trading: Trading) -> list[tuple[int, StrategyRun.Opened]]:
    """Return (log position, opening) of every trading run in the log, oldest first."""
    return [
        (position, event)
        for position, event in trading.read_events([StrategyRun.Opened.TOPIC])
        if isinstance(event, StrategyRun.Opened)
    ]


def run_parity(
    trading: Trading,
    opened: StrategyRun.Opened,
    position: int,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
    scratch: ScratchLedger,
) -> RunParity:
    """Compare a trading run's decisions in [start, end) with a backtest of its candles.

    `start` defaults to the run's first candle, `end` to the close of the newest candle.
    """
    first = opened.first_candle_at
    tape = candle_tape_from_log(trading, opened.market, start=first, end=end)
    lo = max(start or first, first)
    hi = end or (tape.open_time(len(tape) - 1) + timedelta(minutes=1) if tape else first)
    outcome = RunParity(opened.run_id, lo, hi)
    if tape is None:
        # Neither side can have decided anything: equal, and said so.
        outcome.note = f"nothing to compare: the log holds no {opened.market} candle from {first}"
        return outcome
    outcome.candles = len(tape)
    directives = _outside_risk_changes(trading, opened, position)
    replica = scratch(trading.account, opened.fee_rate, trading.markets)
    try:
        # The backtest starts from the account the run opened on, as the run's loop does: the
        # strategies' books (cash, positions; an earlier run's or an operator's), the risk
        # record's limits and state. A run opened on a fresh account has its capital there.
        seed_account(replica, trading, list(opened.strategies), opened.market, position)
        record = replica.get_risk_limits()
        limits = record.limits if record is not None else Limits()
        model = FillModel(opened.fee_rate, opened.slippage_bps, opened.max_participation)
        strategies = build_strategies(list(opened.strategies), opened.strategies)
        config = EngineConfig(opened.run_id, opened.capital_krw, model, opened.market, limits)
        engine = RunEngine(replica, strategies, config, allocates=False)
        engine.run_tape(tape, progress, directives=directives)
        backtest = [event for _, event in _decisions(replica, opened.run_id, after=0)]
    finally:
        replica.close()
    system = [event for _, event in _decisions(trading, opened.run_id, after=position)]
    outcome.system_lines = parity_lines(_in_range(system, lo, hi))
    outcome.backtest_lines = parity_lines(_in_range(backtest, lo, hi))
    return outcome


def _outside_risk_changes(
    trading: Trading, opened: StrategyRun.Opened, position: int
) -> dict[int, list[RiskDirective]]:
    # Each change of the risk record made outside the run after it opened, at the index of
    # the candle the run applied it at (the same rule).
    schedule: dict[int, list[RiskDirective]] = {}
    feed = LogCandleFeed(trading, opened.market, opened.first_candle_at)
    changes = OutsideRiskChanges(
        trading, account=trading.account, run_id=opened.run_id, after=position
    )
    for index, (_, available) in enumerate(feed.poll_positioned()):
        found = changes.before(available)
        if found:
            schedule.setdefault(index, []).extend(found)
    return schedule


def _decisions(trading: Trading, run_id: str, *, after: int) -> list[tuple[int, Event]]:
    flows = {monitor_flow(run_id)}
    found: list[tuple[int, Event]] = []
    for position, event in trading.read_events(DECISION_TOPICS, after=after):
        fields = vars(event)
        if isinstance(event, Signal.Created):
            if event.run_id != run_id:
                continue
            flows.add(str(event.originator_id))
        elif fields.get("correlation_id") not in flows:
            continue
        found.append((position, (type(event).TOPIC, fields)))  # type: ignore[attr-defined]
    return found


def _in_range(events: list[Event], start: datetime, end: datetime) -> list[Event]:
    # A flow is in the range when it began there (a signal at a close in (start, end]); its
    # events count up to the range's end, where the backtest stops.
    began: dict[str, datetime] = {}
    kept: list[Event] = []
    for topic, fields in events:
        flow = str(
            fields["originator_id"]
            if topic == "strategy.signal.created"
            else fields["correlation_id"]
        )
        at: datetime = fields["occurred_at"]
        began.setdefault(flow, at)
        if start < began[flow] <= end and at <= end:
            kept.append((topic, fields))
    return kept
