"""The fast and plain paths on the real 8-month Upbit file: identical events and results."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from domain.risk.limits import Limits
from tests.unit.commands.backtest.runs import events, run

SHARED = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "market"
EIGHT_MONTHS = SHARED / "upbit-KRW-BTC-1m-2023-01_2023-08.csv.gz"


@pytest.mark.skipif(not EIGHT_MONTHS.exists(), reason=f"{EIGHT_MONTHS} is not on this machine")
def test_fast_and_plain_paths_are_identical_on_the_real_eight_months() -> None:
    names = ["volatility_breakout", "grid", "turtle"]
    fast, fast_report = run(EIGHT_MONTHS, names, fast=True)
    plain, plain_report = run(EIGHT_MONTHS, names, fast=False)
    assert fast_report["candles"] == 349_380
    assert events(fast) == events(plain)
    assert fast_report == plain_report


@pytest.mark.skipif(not EIGHT_MONTHS.exists(), reason=f"{EIGHT_MONTHS} is not on this machine")
def test_fast_and_plain_paths_are_identical_on_the_real_eight_months_with_risk_limits() -> None:
    # Limits that act all along without halting: exposure crossings recorded, bids denied
    limits = Limits(
        max_exposure_krw=Decimal(9_000_000),
        daily_loss_krw=Decimal(2_000_000),
        max_drawdown=Decimal("0.3"),
    )
    names = ["volatility_breakout", "grid", "turtle"]
    fast, fast_report = run(EIGHT_MONTHS, names, fast=True, limits=limits)
    plain, plain_report = run(EIGHT_MONTHS, names, fast=False, limits=limits)
    assert events(fast) == events(plain)
    assert fast_report == plain_report
    assert fast_report["risk"]["fired"] and fast_report["portfolio"]["denials"] > 0
