"""The trading loop over the log's candles: a backtest's decisions, and crash-only restarts."""

from __future__ import annotations

from collections import Counter

import pytest

from commands.processes.candle_feed import LogCandleFeed
from commands.run_engine.execution import Acknowledgement, Execution
from commands.run_engine.paper_execution import PaperExecution
from commands.run_engine.working_orders import WorkingOrder
from domain.candles.candle import Candle
from domain.fills.paper_fill_model import FillModel
from domain.strategies.run import StrategyRun
from tests.unit.commands.processes.runs import (
    RUN_ID,
    backtest_decisions,
    decisions,
    log_lines,
    loop,
    new_log,
    open_run,
    real_candles,
    record_candles,
)

DAYS = 5


@pytest.fixture(scope="module")
def candles() -> list[Candle]:
    """Five days of real KRW-BTC minutes, gaps filled as ingest fills them."""
    return real_candles(DAYS)


@pytest.fixture(scope="module")
def expected(candles: list[Candle]) -> list[str]:
    """The decisions of a backtest over the same candles with the run's inputs."""
    return backtest_decisions(candles)


class CrashingExecution(PaperExecution):
    """The paper execution, dying on its n-th submission (the order placed, not yet sent)."""

    def __init__(self, model: FillModel, crash_at: int) -> None:
        super().__init__(model)
        self.crash_at = crash_at
        self.submitted = 0

    def submit(self, order: WorkingOrder, candle: Candle) -> Acknowledgement:
        self.submitted += 1
        if self.submitted == self.crash_at:
            raise SystemExit(f"killed before submitting order {order.order_id}")
        return super().submit(order, candle)


def test_paper_run_over_recorded_candles_decides_exactly_what_a_backtest_decides(
    candles: list[Candle], expected: list[str]
) -> None:
    # Given the candles in the log and a paper run opened at the first of them
    trading = new_log()
    record_candles(trading, candles)
    open_run(trading, candles[0].open_time)

    # When the loop processes what the log holds
    processed = loop(trading).step()

    # Then it processed every candle and its decisions are the backtest's, byte for byte
    assert processed == len(candles)
    assert len(expected) > 50
    assert decisions(trading) == expected


def test_loop_waits_for_a_missing_minute_and_processes_nothing_after_it(
    candles: list[Candle],
) -> None:
    # Given a log whose candles miss one minute
    trading = new_log()
    record_candles(trading, candles[:100])
    record_candles(trading, candles[101:200])
    open_run(trading, candles[0].open_time)
    run = loop(trading)

    # When the loop runs, then it stops before the gap
    assert run.step() == 100
    assert run.feed.next_open_time == candles[100].open_time

    # When the minute is recorded, then the loop goes on through it
    record_candles(trading, [candles[100]])
    assert run.step() == 100


def test_run_restarted_between_candles_appends_what_an_uninterrupted_run_appends(
    candles: list[Candle], expected: list[str]
) -> None:
    # Given an uninterrupted run whose candles arrive in two parts
    half = len(candles) // 2
    steady = new_log()
    record_candles(steady, candles[:half])
    open_run(steady, candles[0].open_time)
    steady_loop = loop(steady)
    steady_loop.step()
    record_candles(steady, candles[half:])
    steady_loop.step()

    # When another run stops after the first part and a new process takes over
    restarted = new_log()
    record_candles(restarted, candles[:half])
    open_run(restarted, candles[0].open_time)
    loop(restarted).step()
    record_candles(restarted, candles[half:])
    loop(restarted).step()

    # Then both logs hold the same events, in the same order, and the backtest's decisions
    assert log_lines(restarted) == log_lines(steady)
    assert decisions(restarted) == expected


@pytest.mark.parametrize("crash_at", [1, 2, 7, 19])
def test_run_killed_between_placing_and_sending_an_order_resumes_without_a_duplicate(
    candles: list[Candle], expected: list[str], crash_at: int
) -> None:
    # Given a paper run killed just before it sends its n-th order
    trading = new_log()
    record_candles(trading, candles)
    open_run(trading, candles[0].open_time)

    def crashing(opened: StrategyRun.Opened, model: FillModel, feed: LogCandleFeed) -> Execution:
        return CrashingExecution(model, crash_at)

    with pytest.raises(SystemExit):
        loop(trading, crashing).step()
    # (a candle is one transaction: the log holds none of the killed candle's orders)
    placed_before = Counter(topic for topic, _ in log_lines(trading))["order.placed"]
    assert placed_before < crash_at
    progress = trading.read_run_progress(RUN_ID)
    killed_candle = progress.candles if progress is not None else 0
    assert not [
        line
        for topic, line in log_lines(trading)
        if topic == "order.placed" and candles[killed_candle].close_time.isoformat() in line
    ]

    # When a new process resumes the run
    loop(trading).step()

    # Then the log holds each decision once: exactly the backtest's
    assert decisions(trading) == expected
