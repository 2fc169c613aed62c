"""Risk in a trading run: its limits as in a backtest, and an operator's changes in between."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from api.bootstrap import scratch_ledger
from commands.messages import ChangeTradingState, SetRiskLimits
from commands.parity import run_parity
from commands.run_engine.engine import RunEngine
from commands.run_engine.run_model import EngineConfig
from commands.trading import Trading
from domain.candles.candle import Candle
from domain.events import Cause
from domain.risk.limits import Limits
from domain.risk.trading_state import TradingState
from domain.strategies.catalog import build_strategies
from tests.builders import POPO_ENV
from tests.unit.commands.processes.runs import (
    CAPITAL,
    MODEL,
    NAMES,
    PARAMS,
    RUN_ID,
    log_lines,
    loop,
    new_log,
    open_run,
    parity,
    real_candles,
    record_candles,
)

DAILY_LOSS = Decimal(60_000)
"""A daily loss the fixture's second day crosses with the run's strategies (checked below)."""


@pytest.fixture(scope="module")
def candles() -> list[Candle]:
    """Three days of real KRW-BTC minutes, gaps filled as ingest fills them."""
    return real_candles(3)


def operator(candle: Candle, request: str) -> Cause:
    """Return an operator's cause, a little after the candle closed."""
    return Cause(candle.close_time + timedelta(seconds=7), "api:alice", request, request)


def events(trading: Trading, topic_prefix: str) -> list[dict[str, Any]]:
    """Return the log's events whose topic starts with the prefix, decoded."""
    return [
        {"topic": topic, **json.loads(line)}
        for topic, line in log_lines(trading)
        if topic.startswith(topic_prefix)
    ]


def run_with_limits(candles: list[Candle], limits: Limits) -> Trading:
    """Open a paper run on an account with these limits and process the candles."""
    trading = new_log()
    cause = operator(candles[0], "limits")
    trading.set_risk_limits(
        SetRiskLimits(reason="the run's limits", cause=cause, **limits.as_fields())
    )
    record_candles(trading, candles)
    open_run(trading, candles[0].open_time)
    loop(trading).step()
    return trading


def backtest_with_limits(candles: list[Candle], limits: Limits) -> Trading:
    """Return the log of a backtest of the run's inputs with these limits."""
    trading = Trading(POPO_ENV, account="main")
    config = EngineConfig(RUN_ID, CAPITAL, MODEL, limits=limits)
    RunEngine(trading, build_strategies(NAMES, PARAMS), config).run(candles)
    return trading


def test_a_daily_loss_breach_halts_a_paper_run_on_the_candle_a_backtest_halts_on(
    candles: list[Candle],
) -> None:
    # Given an account whose daily loss limit the candles cross
    limits = Limits(daily_loss_krw=DAILY_LOSS)

    # When a paper run trades them, and a backtest with the same limits runs over them
    run = run_with_limits(candles, limits)
    backtest = backtest_with_limits(candles, limits)

    # Then the run halts on the crossing candle, exactly as the backtest does
    halts = events(run, "risk.trading.halted")
    assert len(halts) == 1 and halts[0]["actor"] == "risk-monitor"
    assert "daily_loss" in halts[0]["reason"]
    assert events(backtest, "risk.trading.halted")[0]["occurred_at"] == halts[0]["occurred_at"]
    assert parity(run) == parity(backtest)
    # And nothing reached the execution after the halt: later strategy orders were denied
    after = [e for e in events(run, "order.") if e["occurred_at"] > halts[0]["occurred_at"]]
    placed = [e for e in after if e["topic"] == "order.placed"]
    rejected = [e for e in after if e["topic"] == "order.rejected"]
    assert placed, "the strategies kept deciding after the halt"
    assert len(rejected) == len(placed)
    assert all(r["reason"].startswith("trading_halted") for r in rejected)
    assert not [e for e in after if e["topic"] in ("order.accepted", "order.filled")]


def test_an_operator_halt_reaches_the_run_at_the_next_candle_and_a_resume_restarts_trading(
    candles: list[Candle],
) -> None:
    # Given a paper run that has traded a day, with orders open
    trading = new_log()
    day = 1440
    record_candles(trading, candles[:day])
    open_run(trading, candles[0].open_time)
    loop(trading).step()
    assert events(trading, "order.accepted")

    # When an operator halts trading, and two hours of candles arrive
    halted_at = candles[day - 1]
    halt = ChangeTradingState("HALTED", "exchange maintenance", operator(halted_at, "halt"))
    trading.change_trading_state(halt)
    record_candles(trading, candles[day : day + 120])
    running = loop(trading)
    running.step()

    # Then the run cancels its open orders at the first candle after the halt
    first_after = candles[day]
    cancels = [
        e
        for e in events(trading, "order.cancelled")
        if e["occurred_at"] == first_after.close_time.isoformat()
    ]
    assert cancels and all("HALTED" in c["reason"] for c in cancels)
    assert all("exchange maintenance" in c["reason"] for c in cancels)
    # And places nothing while halted: every later strategy order is denied
    window = [
        e
        for e in events(trading, "order.")
        if first_after.close_time.isoformat() < e["occurred_at"]
    ]
    assert not [e for e in window if e["topic"] == "order.accepted"]

    # When the operator resumes with a reason, and the rest of the candles arrive
    resume = ChangeTradingState("ACTIVE", "maintenance over", operator(candles[day + 119], "go"))
    trading.change_trading_state(resume)
    record_candles(trading, candles[day + 120 :])
    running.step()

    # Then orders are accepted again after the resume
    resumed_at = candles[day + 120].close_time.isoformat()
    accepted = [e for e in events(trading, "order.accepted") if e["occurred_at"] >= resumed_at]
    assert accepted
    # And the operator's changes are recorded once each, with actor and reason
    changes = events(trading, "risk.trading.")
    assert [(c["topic"], c["actor"]) for c in changes] == [
        ("risk.trading.halted", "api:alice"),
        ("risk.trading.resumed", "api:alice"),
    ]

    # And a restarted run resumes after its last candle: it processes and appends nothing
    before = log_lines(trading)
    restarted = loop(trading)
    assert restarted.progress.candles == len(candles)
    assert restarted.step() == 0
    assert log_lines(trading) == before

    # And `ledger parity` replays the operator's changes at the same candles: equal
    opened = trading.get_run_opened(RUN_ID)
    position = trading.run_opened_position(RUN_ID)
    assert opened is not None and position is not None
    outcome = run_parity(trading, opened, position, scratch=scratch_ledger)
    assert outcome.is_equal, outcome.first_difference()
    assert outcome.system_lines


def test_a_run_restarted_after_the_operator_halt_applies_it_at_the_same_candle(
    candles: list[Candle],
) -> None:
    # Given a run that processed half a day, then an operator's halt, then more candles
    def scenario(restart: bool) -> list[tuple[str, str]]:
        trading = new_log()
        record_candles(trading, candles[:720])
        open_run(trading, candles[0].open_time)
        running = loop(trading)
        running.step()
        trading.change_trading_state(
            ChangeTradingState("HALTED", "manual", operator(candles[719], "halt"))
        )
        record_candles(trading, candles[720:900])
        if restart:  # a new process, re-processing from the first candle
            running = loop(trading)
        running.step()
        halted_at = candles[720].close_time.isoformat()
        ended = [e for e in events(trading, "order.cancelled") if e["occurred_at"] == halted_at]
        assert ended and all("manual" in e["reason"] for e in ended)
        return log_lines(trading)

    # When the run is stopped and restarted after the halt, or not
    # Then both logs are identical
    assert scenario(restart=True) == scenario(restart=False)


def test_limits_an_operator_sets_during_a_run_are_watched_from_the_next_candle(
    candles: list[Candle],
) -> None:
    # Given a paper run without limits that traded a day
    trading = new_log()
    record_candles(trading, candles[:1440])
    open_run(trading, candles[0].open_time)
    loop(trading).step()
    assert not events(trading, "risk.limit.breached")

    # When an operator sets a daily loss limit, and the next day arrives
    cause = operator(candles[1439], "limits")
    trading.set_risk_limits(
        SetRiskLimits(
            reason="tighter", cause=cause, **Limits(daily_loss_krw=DAILY_LOSS).as_fields()
        )
    )
    record_candles(trading, candles[1440:])
    loop(trading).step()

    # Then the run watches it: the second day's loss halts it, as parity confirms
    breaches = events(trading, "risk.limit.breached")
    assert breaches and breaches[0]["limit"] == "daily_loss"
    risk = trading.get_risk_limits()
    assert risk is not None and risk.state is TradingState.HALTED
    opened = trading.get_run_opened(RUN_ID)
    position = trading.run_opened_position(RUN_ID)
    assert opened is not None and position is not None
    outcome = run_parity(trading, opened, position, scratch=scratch_ledger)
    assert outcome.is_equal, outcome.first_difference()


def test_a_submit_rate_limit_denies_a_paper_runs_orders_over_it_as_a_backtest_does(
    candles: list[Candle],
) -> None:
    # Given an account that may place 3 orders a minute
    limits = Limits(max_orders_per_minute=3)

    # When a paper run trades the candles, and a backtest with the same limit runs over them
    run = run_with_limits(candles, limits)
    backtest = backtest_with_limits(candles, limits)

    # Then the run denies the strategies' orders over the rate, coded for the rule, as the
    # backtest does, and both decide the same
    denied = [
        e for e in events(run, "order.rejected") if e["reason"].startswith("submit_rate_limit: ")
    ]
    assert denied and all(e["rejected_by"] == "risk" for e in denied)
    assert len(denied) == len(
        [
            e
            for e in events(backtest, "order.rejected")
            if e["reason"].startswith("submit_rate_limit: ")
        ]
    )
    assert parity(run) == parity(backtest)
    # And no denied order reached the execution
    denied_ids = {e["originator_id"] for e in denied}
    assert not [e for e in events(run, "order.accepted") if e["originator_id"] in denied_ids]
