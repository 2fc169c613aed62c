"""Benchmark `ledger replay` over a persisted 8-month run (issue 6 names no figure; measured).

The run is persisted as `ledger backtest --persist` does it: the file's candles into the log
(one event per UTC hour), then the run's inputs and events. The replay reads the candles back
from the log, re-runs the three strategies and compares every decision.
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime
from decimal import Decimal

from adapters.market_data.candles_csv import read_rows, read_tape
from api.bootstrap import scratch_ledger
from commands.backtest.run_record import complete_run, start_run
from commands.candle_import import hour_commands
from commands.log_copy import copy_events
from commands.replay import recorded_runs, replay_run
from commands.run_engine.engine import IN_MEMORY_ENV, EngineConfig, RunEngine
from commands.trading import Trading
from domain.events import Cause
from domain.fills.paper_fill_model import FillModel
from domain.strategies.catalog import STRATEGY_NAMES, build_strategies
from tests.bench.backtest import EIGHT_MONTHS
from tests.bench.ledger_core import Figure

IMPORTED = Cause(datetime(2026, 1, 1, tzinfo=UTC), "bench", "import", "import")


def bench_replay(env: dict[str, str], runs: int = 3) -> Figure:
    """Persist the 8-month run once, then time a whole replay of it (median of `runs`)."""
    trading = Trading(env)
    try:
        rows = read_rows(EIGHT_MONTHS)
        commands = hour_commands(
            "KRW-BTC", rows.minutes.tolist(), rows.values, source="csv:bench", cause=IMPORTED
        )
        trading.ingest_candles(commands, assume_new=True)
        tape = read_tape(EIGHT_MONTHS)
        strategies = build_strategies(list(STRATEGY_NAMES), {})
        config = EngineConfig("bench-replay", Decimal("10000000"), FillModel())
        memory = Trading(IN_MEMORY_ENV, account=config.run_id)
        memory.start_run(start_run(config, strategies, tape, "backtest"))
        engine = RunEngine(memory, strategies, config).run_tape(tape)
        memory.complete_run(complete_run(engine))
        copy_events(trading, memory)
        memory.close()
        [run] = recorded_runs(trading)
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            outcome = replay_run(trading, run, scratch=scratch_ledger)
            times.append(time.perf_counter() - started)
            assert outcome.is_identical, (outcome.problems, outcome.difference)
    finally:
        trading.close()
    median = statistics.median(times)
    return Figure(
        "`ledger replay` of a persisted 8-month run (log candles, re-run, compare)",
        median,
        "s (median)",
        "none set",
        True,
        f"{len(tape):,} candles, {outcome.recorded_decisions:,} decisions identical; "
        f"{len(tape) / median:,.0f} candles/s; runs: " + ", ".join(f"{t:.2f}" for t in times),
    )
