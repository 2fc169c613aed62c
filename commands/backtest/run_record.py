"""The record of a backtest run: its `strategy.run.started` inputs and its completion."""

from __future__ import annotations

from collections.abc import Sequence

from commands.messages import CompleteRun, StartRun
from commands.run_engine.engine import RunEngine
from commands.run_engine.run_model import EngineConfig
from domain.candles.tape import CandleTape
from domain.events import Cause
from domain.strategies.base import Strategy
from domain.strategies.catalog import resolved_parameters

RUN_ACTOR = "backtest"


def start_run(
    config: EngineConfig, strategies: Sequence[Strategy], tape: CandleTape, mode: str
) -> StartRun:
    """Return the command that records a run's inputs: parameters, limits, the candles' hash."""
    first, last = tape.open_time(0), tape.open_time(len(tape) - 1)
    model = config.fill_model
    return StartRun(
        run_id=config.run_id,
        mode=mode,
        market=config.market,
        strategies=resolved_parameters(strategies),
        capital_krw=config.capital_krw,
        fee_rate=model.fee_rate,
        slippage_bps=model.slippage_bps,
        max_participation=model.max_participation,
        first_candle_at=first,
        last_candle_at=last,
        candle_count=len(tape),
        candles_sha256=tape.content_sha256(),
        cause=Cause(first, RUN_ACTOR, f"run:{config.run_id}", f"run:{config.run_id}"),
        limits=config.limits,
    )


def complete_run(engine: RunEngine) -> CompleteRun:
    """Return the command that records the end of the engine's run with its replay hash."""
    run_id = engine.config.run_id
    digest, decisions = engine.replay_digest()
    at = engine.last_time or engine.first_time
    assert at is not None, "a run completes after its first candle"
    return CompleteRun(
        run_id=run_id,
        candles_processed=engine.candles,
        decisions=decisions,
        replay_hash=digest,
        cause=Cause(at, RUN_ACTOR, f"run:{run_id}", f"run:{run_id}"),
    )
