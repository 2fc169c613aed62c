"""Restart benchmark (issue 18): a paper run 30 days old, restarted, takes its next candle.

A paper run with the default strategies and a dense grid (40 lines within 2 %) trades the
first 30 days of the 8-month Upbit file (43,200 candles, gaps filled as ingest fills them) on
the embedded PostgreSQL, through the same `TradingLoop` that `ledger run` drives. Then the
next minute is recorded, and a new process (`tests/bench/run_restart_worker.py`) opens the log,
resumes the run and processes that candle: the figure is the wall time from starting that
process to the candle processed (interpreter start and imports included). The restarted run
also decides again the candles since its last saved one (a candle that changed nothing is
saved with a later one, at most 60 candles later), as a killed run would. Before issue 18 a
restarted run re-walked every candle since it opened.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

from adapters.market_data.candles_csv import read_candles
from commands.processes.trading_loop import TradingLoop
from commands.trading import Trading
from domain.candles.candle import Candle
from domain.candles.gaps import fill_gaps
from tests.bench.backtest import EIGHT_MONTHS
from tests.bench.ledger_core import Figure
from tests.unit.commands.processes.runs import open_run, paper, record_candles

RUN_ID = "bench-restart"
RESTARTS = 3
DAYS = 30
DENSE_GRID = {"grid": {"levels": "40", "range_pct": "0.02"}}
ROOT = Path(__file__).resolve().parents[2]


def thirty_days() -> list[Candle]:
    """Return the 8-month file's first 30 days and the minutes after, gaps filled."""
    raw = read_candles(EIGHT_MONTHS)
    end = raw[0].open_time + timedelta(days=DAYS, minutes=RESTARTS)
    return list(fill_gaps(c for c in raw if c.open_time < end))


def record(log: Trading, candles: list[Candle]) -> None:
    """Record candles as an import does (one event per UTC hour)."""
    record_candles(log, candles, source="bench", actor="bench-import")


def bench_run_restart(env: Mapping[str, str]) -> list[Figure]:
    """Trade 30 days on a paper run, record the next minute, restart, time that candle."""
    candles = thirty_days()
    history, new = candles[:-RESTARTS], candles[-RESTARTS:]
    log = Trading(env, account="main")
    try:
        record(log, history)
        open_run(
            log, history[0].open_time, run_id=RUN_ID, params=DENSE_GRID, actor="operator:bench"
        )
        started = time.perf_counter()
        run = TradingLoop(log, RUN_ID, paper)
        processed = run.step()
        built = time.perf_counter() - started
        progress = log.read_run_progress(RUN_ID)
        state_bytes = len(progress.state) if progress is not None else 0
        times, decided = [], []
        for candle in new:  # each restart finds one new candle waiting
            record(log, [candle])
            elapsed, candles = _restart(env)
            times.append(elapsed)
            decided.append(candles)
    finally:
        log.close()
    restart = sorted(times)[1]
    return [
        Figure(
            "a 30-day paper run restarted: process start -> next candle processed",
            restart,
            "s",
            "<= 2 s",
            restart <= 2.0,
            f"median of 3 restarts ({', '.join(f'{t:.2f}' for t in times)} s) of a run of "
            f"{processed:,} candles, each deciding the new candle and those since the last "
            f"saved one ({', '.join(map(str, decided))} candles: a candle that changed nothing "
            f"is saved with a later one); its saved state {state_bytes:,} bytes",
        ),
        Figure(
            "the same run's candles through the paper loop on PostgreSQL",
            processed / built,
            "candles/s",
            "(no target: a transaction for each candle that changed the log, else every 60)",
            True,
            f"{processed:,} candles in {built:.1f} s",
        ),
    ]


def _restart(env: Mapping[str, str]) -> tuple[float, int]:
    # From starting the process to its line saying it processed the candle (not its exit).
    started = time.perf_counter()
    with subprocess.Popen(
        [sys.executable, "-m", "tests.bench.run_restart_worker", RUN_ID],
        env={**env, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as worker:
        assert worker.stdout is not None and worker.stderr is not None
        line = worker.stdout.readline()
        elapsed = time.perf_counter() - started
        errors = worker.stderr.read()
        worker.wait(timeout=600)
    if worker.returncode != 0 or not line.strip().isdigit() or int(line) < 1:
        raise RuntimeError(f"the restarted run failed: {line!r} {errors[-2000:]}")
    return elapsed, int(line)
