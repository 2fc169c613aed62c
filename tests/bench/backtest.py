"""Benchmarks over the real 8-month Upbit file in ../shared: backtests (issue 4), import (5).

- the whole `ledger backtest` command, all three strategies, in memory: target <= 3 s wall;
- the strategy + fill engine alone (fast path, file already loaded): >= 300,000 candles/s;
- the plain candle-by-candle path, for reference.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

from adapters.market_data.candles_csv import read_candles, read_tape
from commands.run_engine.engine import IN_MEMORY_ENV, EngineConfig, RunEngine
from commands.trading import Trading
from domain.candles.gaps import fill_gaps
from domain.fills.paper_fill_model import FillModel
from domain.strategies.catalog import STRATEGY_NAMES, build_strategies
from tests.bench.ledger_core import Figure

EIGHT_MONTHS = (
    Path(__file__).resolve().parents[2].parent
    / "shared"
    / "data"
    / "market"
    / "upbit-KRW-BTC-1m-2023-01_2023-08.csv.gz"
)
LEDGER = str(Path(sys.executable).with_name("ledger"))


def _engine() -> RunEngine:
    trading = Trading(IN_MEMORY_ENV, account="bench")
    return RunEngine(
        trading,
        build_strategies(list(STRATEGY_NAMES), {}),
        EngineConfig("bench", Decimal("10000000"), FillModel()),
    )


def bench_backtest_command(runs: int = 3) -> Figure:
    """Time the whole CLI command, Python start-up included (median of `runs`)."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(
            [LEDGER, "backtest", "--candles", str(EIGHT_MONTHS)], check=True, capture_output=True
        )
        times.append(time.perf_counter() - started)
    median = statistics.median(times)
    return Figure(
        "`ledger backtest`, 8-month file, 3 strategies, in memory",
        median,
        "s wall (median)",
        "<= 3",
        median <= 3,
        f"{runs} runs: " + ", ".join(f"{t:.2f}" for t in times) + " s",
    )


def bench_engine_fast(runs: int = 3) -> Figure:
    """Time the fast path over the loaded tape (loading excluded)."""
    tape = read_tape(EIGHT_MONTHS)
    rates = []
    for _ in range(runs):
        engine = _engine()
        started = time.perf_counter()
        engine.run_tape(tape)
        rates.append(len(tape) / (time.perf_counter() - started))
    rate = statistics.median(rates)
    return Figure(
        "strategy + fill engine, fast path",
        rate,
        "candles/s (median)",
        ">= 300,000",
        rate >= 300_000,
        f"{len(tape):,} candles after gap filling; file load excluded",
    )


def bench_engine_plain() -> Figure:
    """Time the plain candle-by-candle path (what live trading runs)."""
    candles = list(fill_gaps(read_candles(EIGHT_MONTHS)))
    engine = _engine()
    started = time.perf_counter()
    engine.run(candles)
    rate = len(candles) / (time.perf_counter() - started)
    return Figure(
        "strategy + fill engine, plain path (reference)",
        rate,
        "candles/s",
        "-",
        True,
        "every candle through every strategy, as live trading does",
    )


def bench_import(conninfo: str) -> Figure:
    """Time `ledger import` of the 8-month file into a fresh schema (the whole command)."""
    env = {
        **os.environ,
        "LEDGER_DATABASE__SCHEMA_NAME": "bench_import",
        "LEDGER_DATABASE__URL": conninfo,
    }
    started = time.perf_counter()
    subprocess.run(
        [LEDGER, "import", str(EIGHT_MONTHS), "--market", "KRW-BTC"],
        check=True,
        capture_output=True,
        env=env,
    )
    first = time.perf_counter() - started
    started = time.perf_counter()
    subprocess.run(
        [LEDGER, "import", str(EIGHT_MONTHS), "--market", "KRW-BTC"],
        check=True,
        capture_output=True,
        env=env,
    )
    again = time.perf_counter() - started
    rate = 344_438 / first
    return Figure(
        "`ledger import` of the 8-month file (344,438 candles)",
        rate,
        "candles/s",
        ">= 50,000 (under 10 s)",
        rate >= 50_000,
        f"{first:.1f} s wall for the whole command, server running; importing the "
        f"same file again appends nothing and takes {again:.1f} s",
    )
