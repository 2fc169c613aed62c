"""Run a backtest on a tape both ways (fast and plain) and read back its events."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from adapters.market_data.candles_csv import read_candles, read_tape
from commands.backtest.report import backtest_report
from commands.run_engine.engine import IN_MEMORY_ENV, EngineConfig, RunEngine
from commands.trading import Trading
from domain.candles.candle import Candle
from domain.candles.gaps import fill_gaps
from domain.candles.tape import EPOCH, CandleTape
from domain.fills.paper_fill_model import FillModel
from domain.replay_hash import canonical_json
from domain.risk.limits import Limits
from domain.strategies.catalog import build_strategies

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures"
MARCH = FIXTURES / "candles" / "upbit-KRW-BTC-1m-2023-03-09_2023-03-16.csv.gz"
PARAMS: dict[str, dict[str, str]] = {
    "turtle": {"entry_days": "3", "atr_days": "3", "exit_days": "2"},
    "grid": {"lower": "26000000", "upper": "34000000", "levels": "9", "stop_loss_pct": "0.05"},
}


def run(
    path: Path,
    names: list[str],
    *,
    fast: bool = True,
    end: Any = None,
    limits: Limits = Limits(),  # noqa: B008 - frozen, immutable
    **model: Any,
) -> tuple[RunEngine, dict[str, Any]]:
    """Run the named strategies over the file; return the engine and its report."""
    trading = Trading(IN_MEMORY_ENV, account="test")
    strategies = build_strategies(names, {n: p for n, p in PARAMS.items() if n in names})
    config = EngineConfig("run-test", Decimal("10000000"), FillModel(**model), limits=limits)
    engine = RunEngine(trading, strategies, config)
    if fast:
        engine.run_tape(read_tape(path, end=end))
    else:
        engine.run(fill_gaps(read_candles(path, end=end)))
    return engine, backtest_report(engine)


def events(engine: RunEngine) -> list[tuple[str, str, Any]]:
    """Return (topic, canonical JSON, occurred_at) of every event the run appended."""
    notifications = engine.trading.recorder.select_notifications(start=None, limit=10**9)
    found = []
    for n in notifications:
        event = engine.trading.mapper.to_domain_event(n)
        found.append((n.topic, canonical_json(n.topic, vars(event)), event.occurred_at))
    return found


def tape_of(candles: Sequence[Candle]) -> CandleTape:
    """Return the tape a file of the candles' real rows gives (synthetic minutes left out)."""
    real = [c for c in candles if not c.is_synthetic]
    minutes = np.array(
        [int((c.open_time - EPOCH).total_seconds() // 60) for c in real], dtype=np.int64
    )
    fields = [[str(c.open), str(c.high), str(c.low), str(c.close), str(c.volume)] for c in real]
    prices = np.array(fields, dtype=np.float64)
    return CandleTape(int(minutes[0]), minutes, prices, lambda row: fields[row])


def run_both(
    candles: Sequence[Candle],
    names: list[str],
    params: dict[str, dict[str, str]],
    limits: Limits,
) -> RunEngine:
    """Run the strategies over the candles both ways; check they appended identical events."""
    engines = []
    for fast in (False, True):
        trading = Trading(IN_MEMORY_ENV, account="test")
        config = EngineConfig("run-test", Decimal("10000000"), FillModel(), limits=limits)
        engine = RunEngine(trading, build_strategies(names, params), config)
        engines.append(engine.run_tape(tape_of(candles)) if fast else engine.run(candles))
    plain, fast_engine = engines
    assert events(fast_engine) == events(plain), "the fast path appended other events"
    return plain
