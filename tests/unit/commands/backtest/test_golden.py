"""Golden results per strategy over a committed excerpt of real candles, and path identity."""

from __future__ import annotations

import json
import os
from decimal import Decimal

import pytest

from domain.risk.limits import Limits
from tests.unit.commands.backtest.runs import FIXTURES, MARCH, events, run

STRATEGIES = ["volatility_breakout", "grid", "turtle"]


@pytest.mark.parametrize("name", STRATEGIES)
def test_strategy_trades_on_the_fixture_match_the_golden_file(name: str) -> None:
    # Given the March 2023 excerpt and the strategy alone
    _, report = run(MARCH, [name])
    result = report["strategies"][name]
    golden = FIXTURES / "golden" / f"{name}.json"
    if os.environ.get("LEDGER_UPDATE_GOLDEN") == "1":
        golden.write_text(json.dumps(result["trades"], indent=1) + "\n", encoding="utf-8")
    # Then it trades exactly as recorded
    assert result["trades"] == json.loads(golden.read_text(encoding="utf-8"))
    assert result["fills"] > 0


@pytest.mark.parametrize(
    "model",
    [{}, {"slippage_bps": Decimal(7)}, {"max_participation": Decimal("0.05")}],
    ids=["default", "slippage", "participation"],
)
def test_fast_and_plain_paths_append_identical_events_on_the_fixture(model: dict) -> None:  # type: ignore[type-arg]
    fast, fast_report = run(MARCH, STRATEGIES, fast=True, **model)
    plain, plain_report = run(MARCH, STRATEGIES, fast=False, **model)
    assert events(fast) == events(plain)
    assert fast_report == plain_report


LIMITS = {
    # Halts on 2023-03-10, then every strategy order is denied.
    "daily_loss": Limits(daily_loss_krw=Decimal(200_000)),
    # Reduces on 2023-03-14, liquidates, halts once flat.
    "drawdown": Limits(max_drawdown=Decimal("0.02")),
    # Grid and breakout bids refused by the exposure rule; exposure crossings recorded.
    "exposure": Limits(max_exposure_krw=Decimal(400_000)),
    "all": Limits(
        max_order_krw=Decimal(3_000_000),
        max_exposure_krw=Decimal(500_000),
        daily_loss_krw=Decimal(300_000),
        max_drawdown=Decimal("0.03"),
    ),
}


@pytest.mark.parametrize("name", list(LIMITS))
def test_fast_and_plain_paths_append_identical_events_with_risk_limits(name: str) -> None:
    # Given the fixture and risk limits that fire (or refuse orders) during the run
    limits = LIMITS[name]
    fast, fast_report = run(MARCH, STRATEGIES, fast=True, limits=limits)
    plain, plain_report = run(MARCH, STRATEGIES, fast=False, limits=limits)
    # Then both paths append the same events, and the limits did act
    assert events(fast) == events(plain)
    assert fast_report == plain_report
    topics = {topic for topic, _, _ in events(fast)}
    assert topics & {"risk.limit.breached", "order.rejected"}


def test_participation_on_the_fixture_produces_partial_fills() -> None:
    engine, _ = run(MARCH, STRATEGIES, max_participation=Decimal("0.05"))
    topics = [topic for topic, _, _ in events(engine)]
    assert topics.count("order.partially_filled") > 0
