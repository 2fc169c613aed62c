"""Trading runs over recorded candles, in memory: open, ingest, loop; and the backtest to match."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from adapters.market_data.candles_csv import read_candles
from commands.ingest import candle_hour_commands
from commands.messages import OpenRun
from commands.ports import ExchangeGateway
from commands.processes.candle_feed import LogCandleFeed
from commands.processes.trading_loop import TradingLoop
from commands.run_engine.engine import RunEngine
from commands.run_engine.exchange_execution import ExchangeExecution
from commands.run_engine.execution import Execution
from commands.run_engine.paper_execution import PaperExecution
from commands.run_engine.run_model import EngineConfig
from commands.trading import Trading
from domain.candles.candle import Candle
from domain.candles.gaps import fill_gaps
from domain.events import Cause
from domain.fills.paper_fill_model import FillModel
from domain.parity import parity_lines
from domain.replay_hash import canonical_json, is_decision_topic
from domain.strategies.catalog import build_strategies, resolved_parameters
from domain.strategies.run import StrategyRun
from tests.builders import POPO_ENV
from tests.unit.commands.backtest.runs import MARCH

RUN_ID = "paper-test"
CAPITAL = Decimal("10000000")
PARAMS: dict[str, dict[str, str]] = {
    "turtle": {"entry_days": "2", "atr_days": "2", "exit_days": "1"},
    "grid": {"lower": "26000000", "upper": "34000000", "levels": "9"},
}
NAMES = ["volatility_breakout", "grid", "turtle"]
MODEL = FillModel(Decimal("0.0005"), Decimal(0), Decimal("0.5"))

ExecutionFactory = Callable[[StrategyRun.Opened, FillModel, LogCandleFeed], Execution]


def paper(opened: StrategyRun.Opened, model: FillModel, feed: LogCandleFeed) -> Execution:
    """Return the paper execution of a run."""
    return PaperExecution(model)


def record_candles(
    trading: Trading, candles: list[Candle], source: str = "fixture", actor: str = "test-ingest"
) -> None:
    """Record candles in the log as an ingest by `actor` from `source` would (one event per UTC
    hour)."""
    cause = Cause(candles[0].open_time, actor, source, source)
    trading.ingest_candles(candle_hour_commands("KRW-BTC", candles, source, cause))


def open_run(
    trading: Trading,
    first_candle_at: datetime,
    *,
    run_id: str = RUN_ID,
    exchange: str = "paper",
    params: Mapping[str, Mapping[str, str]] = PARAMS,
    actor: str = "operator:test",
    cause: Cause | None = None,
) -> None:
    """Open a run of the test's strategies (with `params`) at `first_candle_at`: on paper, or
    live on `exchange`. An operator (`actor`) opened it with `ledger run`, unless `cause` says
    who did."""
    strategies = build_strategies(NAMES, params)
    trading.open_run(
        OpenRun(
            run_id=run_id,
            mode="paper" if exchange == "paper" else "live",
            exchange=exchange,
            market="KRW-BTC",
            strategies=resolved_parameters(strategies),
            capital_krw=CAPITAL,
            fee_rate=MODEL.fee_rate,
            slippage_bps=MODEL.slippage_bps,
            max_participation=MODEL.max_participation,
            first_candle_at=first_candle_at,
            cause=cause or Cause(first_candle_at, actor, "ledger run", "ledger run"),
        )
    )


def new_log() -> Trading:
    """Return an empty in-memory log the way a run writes it."""
    return Trading(POPO_ENV, account="main")


def on_exchange(
    gateway: ExchangeGateway, trading: Trading, made: list[ExchangeExecution] | None = None
) -> ExecutionFactory:
    """Return the factory of a run's executions through `gateway`; each one it makes is added
    to `made`, when given."""

    def execution(opened: StrategyRun.Opened, model: FillModel, feed: LogCandleFeed) -> Execution:
        made_now = ExchangeExecution(
            gateway,
            trading,
            opened.market,
            horizon=lambda: feed.newest_close,
        )
        if made is not None:
            made.append(made_now)
        return made_now

    return execution


def loop(trading: Trading, execution: ExecutionFactory = paper) -> TradingLoop:
    """Return a (re)started loop of the test run."""
    return TradingLoop(trading, RUN_ID, execution)


def exchange_loop(
    trading: Trading, gateway: ExchangeGateway
) -> tuple[TradingLoop, list[ExchangeExecution]]:
    """Return a (re)started loop of the test run on `gateway`, and the executions it makes."""
    made: list[ExchangeExecution] = []
    return loop(trading, on_exchange(gateway, trading, made)), made


def backtest_decisions(candles: list[Candle]) -> list[str]:
    """Return the canonical decision events of a backtest of the run's inputs over `candles`."""
    trading = Trading(POPO_ENV, account=RUN_ID)
    strategies = build_strategies(NAMES, PARAMS)
    engine = RunEngine(trading, strategies, EngineConfig(RUN_ID, CAPITAL, MODEL))
    engine.run(candles)
    return decisions(trading)


def decisions(trading: Trading) -> list[str]:
    """Return the log's decision events (signals, orders, fills) as canonical JSON, in order."""
    return [line for topic, line in log_lines(trading) if is_decision_topic(topic)]


def log_lines(trading: Trading) -> list[tuple[str, str]]:
    """Return (topic, canonical JSON) of every event in the log, in order."""
    found: list[tuple[str, str]] = []
    for notification in trading.recorder.select_notifications(start=None, limit=10**9):
        event: Any = trading.mapper.to_domain_event(notification)
        found.append((notification.topic, canonical_json(notification.topic, vars(event))))
    return found


def parity(trading: Trading) -> list[str]:
    """Return the log's decisions as parity lines (by flow, exchange ids left out)."""
    found = []
    for notification in trading.recorder.select_notifications(start=None, limit=10**9):
        event: Any = trading.mapper.to_domain_event(notification)
        found.append((notification.topic, vars(event)))
    return parity_lines(found)


def real_candles(days: int) -> list[Candle]:
    """Return the fixture's first `days` days of real KRW-BTC minutes, gaps filled as ingest
    fills them."""
    raw = read_candles(MARCH)
    end = raw[0].open_time + timedelta(days=days)
    return list(fill_gaps(c for c in raw if c.open_time < end))
