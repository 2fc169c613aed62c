"""Runs record their risk limits as inputs; a run recorded before runs had limits (version 1
of `strategy.run.started`) is read as a run without limits, and one recorded before the
submit-rate limit (version 2) as a run without that limit, the log left as it was."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal as D

from eventsourcing.persistence import StoredEvent

from commands.messages import StartRun
from commands.replay import recorded_runs
from commands.trading import Trading
from domain.events import Cause
from domain.risk.limits import Limits
from domain.strategies.run import StrategyRun
from tests.builders import POPO_ENV

AT = datetime(2025, 1, 6, tzinfo=UTC)
LIMIT_FIELDS = (
    "max_order_krw",
    "max_exposure_krw",
    "daily_loss_krw",
    "max_drawdown",
    "max_orders_per_minute",
)


def start(limits: Limits = Limits()) -> StartRun:  # noqa: B008 - frozen, immutable
    return StartRun(
        run_id="run-1",
        mode="backtest",
        market="KRW-BTC",
        strategies={"grid": {"levels": "10"}},
        capital_krw=D(1_000_000),
        fee_rate=D("0.0005"),
        slippage_bps=D(0),
        max_participation=None,
        first_candle_at=AT,
        last_candle_at=AT,
        candle_count=1,
        candles_sha256="0" * 64,
        cause=Cause(AT, "backtest", "run:run-1", "run:run-1"),
        limits=limits,
    )


def started_events(app: Trading) -> list[StrategyRun.Started]:
    return [e for _, e in app.read_events(["strategy.run.started"])]  # type: ignore[misc]


def test_a_run_records_its_risk_limits_in_strategy_run_started() -> None:
    # Given a run started with a daily loss and a drawdown limit
    app = Trading(POPO_ENV)
    limits = Limits(daily_loss_krw=D(300_000), max_drawdown=D("0.2"))
    app.start_run(start(limits))
    # Then the event carries them (version 3), and reads back as the same limits
    [started] = started_events(app)
    assert started.limits == limits
    stored = app.recorder.select_notifications(start=None, limit=10)[0]
    state = json.loads(stored.state)
    assert state["class_version"] == 3
    assert state["max_order_krw"] is None and state["max_orders_per_minute"] is None


def test_a_run_records_its_submit_rate_limit() -> None:
    app = Trading(POPO_ENV)

    app.start_run(start(Limits(max_orders_per_minute=5)))

    [started] = started_events(app)
    assert started.limits == Limits(max_orders_per_minute=5)


def test_a_version_1_run_started_event_upcasts_to_a_run_without_limits() -> None:
    # Given a log holding strategy.run.started as version 1 wrote it: no limit fields and no
    # class_version (the bytes of an event recorded before runs had limits)
    recent = Trading(POPO_ENV)
    recent.start_run(start())
    [stored] = recent.recorder.select_notifications(start=None, limit=10)
    state = json.loads(stored.state)
    for name in (*LIMIT_FIELDS, "class_version"):
        state.pop(name)
    old = Trading(POPO_ENV)
    old.recorder.insert_events(
        [
            StoredEvent(
                originator_id=stored.originator_id,
                originator_version=stored.originator_version,
                topic=stored.topic,
                state=json.dumps(state).encode(),
            )
        ]
    )
    # When it is read (by the application and by `ledger replay`'s run selection)
    [started] = started_events(old)
    [run] = recorded_runs(old)
    # Then it is a run without limits, and the stored bytes are unchanged
    assert started.limits == Limits()
    assert run.started.limits == Limits() and run.run_id == "run-1"
    assert old.get_run("run-1") is not None
    [again] = old.recorder.select_notifications(start=None, limit=10)
    assert json.loads(again.state) == state


def test_a_version_2_run_started_event_upcasts_to_a_run_without_a_submit_rate_limit() -> None:
    # Given a log holding strategy.run.started as version 2 wrote it: its four limits, no
    # max_orders_per_minute, class_version 2
    recent = Trading(POPO_ENV)
    recent.start_run(start(Limits(daily_loss_krw=D(300_000))))
    [stored] = recent.recorder.select_notifications(start=None, limit=10)
    state = json.loads(stored.state)
    state.pop("max_orders_per_minute")
    state["class_version"] = 2
    old = Trading(POPO_ENV)
    old.recorder.insert_events(
        [
            StoredEvent(
                originator_id=stored.originator_id,
                originator_version=stored.originator_version,
                topic=stored.topic,
                state=json.dumps(state).encode(),
            )
        ]
    )
    # When it is read
    [started] = started_events(old)
    # Then it keeps its limits and has no submit-rate limit
    assert started.limits == Limits(daily_loss_krw=D(300_000))
