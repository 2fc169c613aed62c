"""The trading service: a failed step that time can cure gives way to a new loop; others stop."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from adapters.trading.service import TradingService, TradingStatus
from commands.errors import ExchangeUnavailableError


class ScriptedLoop:
    """A loop whose steps follow a script: a number of candles, or an exception to raise."""

    def __init__(self, script: list[Any]) -> None:
        self.script = script
        self.progress = type("P", (), {"candles": 0, "last_candle_at": None})()
        self.feed = type("F", (), {"next_open_time": datetime(2023, 3, 9, tzinfo=UTC)})()

    def step(self) -> int:
        item = self.script.pop(0)
        if isinstance(item, Exception):
            raise item
        self.progress.candles += item
        return int(item)


def run_service(
    script: list[Any], *, done_after: int, reconcile: Any = None
) -> tuple[TradingStatus, list[str], int]:
    built: list[ScriptedLoop] = []
    states: list[str] = []
    steps = 0

    def make_loop() -> Any:
        built.append(ScriptedLoop(script))
        return built[-1]

    def after_step(loop: Any) -> bool:
        nonlocal steps
        steps += 1
        return steps >= done_after

    async def wake() -> None:
        await asyncio.sleep(0)

    service = TradingService(
        "run-1",
        make_loop,
        wake,
        is_retryable=lambda error: isinstance(error, ExchangeUnavailableError),
        after_step=after_step,
        report=lambda status: states.append(status.state),
        backoff_s=(0.0,),
        reconcile=reconcile,
    )
    status = asyncio.run(service.run(asyncio.Event()))
    return status, states, len(built)


def test_a_step_failing_on_an_outage_gives_way_to_a_new_loop_and_the_run_goes_on() -> None:
    # Given steps that process, fail on an exchange outage, then process again
    script: list[Any] = [3, ExchangeUnavailableError("503"), 2, 1]

    # When the service runs until the feed is used up
    status, states, loops = run_service(script, done_after=3)

    # Then a second loop took over after one restart, and the run finished
    assert loops == 2
    assert status.state == "finished" and status.restarts == 1
    assert "restarting" in states


def test_a_step_failing_on_a_bug_stops_the_service_and_reports_it() -> None:
    # Given a step that fails on something time cannot cure
    script: list[Any] = [1, ValueError("a bug")]

    # When the service runs, then the error surfaces and the status says failed
    with pytest.raises(ValueError, match="a bug"):
        run_service(script, done_after=10)


def test_each_new_loop_is_preceded_by_a_reconciliation_start_first_then_reconnect() -> None:
    # Given a reconciliation that cannot reach the exchange the first time, and a loop whose
    # step fails on an outage once
    triggers: list[str] = []

    def reconcile(trigger: str) -> None:
        triggers.append(trigger)
        if len(triggers) == 1:
            raise ExchangeUnavailableError("503 while reconciling")

    script: list[Any] = [3, ExchangeUnavailableError("503"), 2, 1]

    # When the service runs until the feed is used up
    status, _, loops = run_service(script, done_after=3, reconcile=reconcile)

    # Then the failed reconciliation was a restart like any other, retried as `start`, and the
    # loop built after the outage was preceded by a `reconnect` one
    assert triggers == ["start", "start", "reconnect"]
    assert loops == 2 and status.restarts == 2 and status.state == "finished"


def test_the_restart_count_keeps_the_newest_restarts_reason_once_the_run_goes_on() -> None:
    # Given steps that fail on an exchange outage, then process again
    script: list[Any] = [ExchangeUnavailableError("Upbit unreachable: 503"), 2, 1]

    # When the service runs on after the restart
    status, _, _ = run_service(script, done_after=2)

    # Then the status still says why it restarted, and when
    assert status.state == "finished" and status.restarts == 1
    assert status.last_restart_reason == "ExchangeUnavailableError: Upbit unreachable: 503"
    assert status.last_restart_at is not None
