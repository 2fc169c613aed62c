"""The backtest use case: a tape of candles through the run engine on a scratch ledger.

The CLI (`ledger backtest`) and the HTTP API (next: `POST /backtests`) parse their inputs, call
`run_backtest` with a scratch ledger from the composition root, and print or return the report.
A run's identity is a hash of its inputs (`backtest_run_id`), not of where the candles came
from: a file and the log with the same candles replay to the same run, hence the same hash.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from commands.backtest.report import backtest_report
from commands.backtest.run_record import complete_run, start_run
from commands.errors import DuplicateRunError
from commands.log_copy import copy_events
from commands.run_engine.engine import EngineConfig, RunEngine
from commands.scratch_ledger import ScratchLedger
from commands.trading import Trading
from domain.candles.candle import Candle
from domain.candles.tape import CandleTape
from domain.fills.paper_fill_model import FillModel
from domain.risk.limits import Limits
from domain.strategies.catalog import build_strategies


@dataclass(frozen=True)
class BacktestInputs:
    """What a backtest is given besides its candles."""

    strategies: Sequence[str]
    overrides: Mapping[str, Mapping[str, str]]
    """Parameter overrides per strategy (name -> value text)."""
    capital_krw: Decimal
    model: FillModel
    market: str
    limits: Limits


@dataclass
class Backtest:
    """A finished backtest: its id, its engine (curves, closes) and ledger, and its report."""

    run_id: str
    engine: RunEngine
    ledger: Trading
    report: dict[str, Any]


def backtest_run_id(tape: CandleTape, inputs: BacktestInputs) -> str:
    """Return the run's id: `bt-` and 12 hex digits of the hash of its inputs."""
    parts: list[Any] = [
        list(inputs.strategies),
        {name: dict(values) for name, values in inputs.overrides.items()},
        inputs.capital_krw,
        inputs.model,
    ]
    # Only runs with limits add them to the id: the ids of runs without stay as they were.
    given = {k: str(v) for k, v in inputs.limits.as_fields().items() if v is not None}
    if given:
        parts.append(json.dumps(given, sort_keys=True))
    first, last = tape.open_time(0), tape.open_time(len(tape) - 1)
    basis = json.dumps([first.isoformat(), last.isoformat(), len(tape), *map(str, parts)])
    return "bt-" + hashlib.sha256(basis.encode()).hexdigest()[:12]


def run_backtest(
    tape: CandleTape,
    inputs: BacktestInputs,
    scratch: ScratchLedger,
    *,
    records_run: bool = False,
    candles: Iterable[Candle] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Backtest:
    """Run the strategies over the tape on a scratch ledger; return the run and its report.

    `candles`: the plain path (every candle, as live trading takes them) over these candles
    instead of the tape's fast path; both record the same events. `records_run`: record the
    run's inputs and completion in the scratch ledger (for persisting it, `persist_backtest`).
    The caller closes `Backtest.ledger`.
    """
    built = build_strategies(list(inputs.strategies), inputs.overrides)
    run_id = backtest_run_id(tape, inputs)
    ledger = scratch(run_id, inputs.model.fee_rate)
    config = EngineConfig(run_id, inputs.capital_krw, inputs.model, inputs.market, inputs.limits)
    engine = RunEngine(ledger, built, config)
    if records_run:  # the log records what the run was given, for `ledger replay`
        ledger.start_run(start_run(config, built, tape, "backtest"))
    if candles is None:
        engine.run_tape(tape, progress)
    else:
        engine.run(candles)
    report = backtest_report(engine)
    if records_run:
        ledger.complete_run(complete_run(engine))
    return Backtest(run_id, engine, ledger, report)


def refuse_persisted(log: Trading, run_id: str) -> None:
    """Refuse a run the log holds already, before anything of it is written.

    Raises:
        DuplicateRunError: the log holds this run (a run is persisted once).
    """
    if log.get_run(run_id) is not None:
        raise DuplicateRunError(
            f"run {run_id} is already in the event log: a run is persisted once (change its "
            "inputs to record another run)"
        )


def persist_backtest(log: Trading, backtest: Backtest) -> int:
    """Copy a recorded backtest's events into the log, in one transaction; return how many.

    Raises:
        DuplicateRunError: the log holds this run already (`commands.log_copy.copy_events`).
    """
    return copy_events(log, backtest.ledger)
