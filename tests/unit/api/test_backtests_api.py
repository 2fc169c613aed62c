"""POST /backtests: the CLI's backtest use case over the log's candles, answered with its JSON
report; token needed, one at a time (429), a bounded range (413), nothing recorded."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

import api.http.routers.backtests as backtests
from adapters.market_data.candles_csv import read_rows
from api.bootstrap import System, scratch_ledger
from api.http.app import create_app
from commands.backtest.run_backtest import BacktestInputs, run_backtest
from commands.candle_import import hour_commands
from domain.events import Cause
from domain.fills.paper_fill_model import FillModel
from domain.money import positive_krw, to_decimal
from domain.risk.limits import Limits
from tests.unit.api.in_memory_api import AUTH, in_memory_system
from tests.unit.commands.backtest.runs import MARCH

START, END = datetime(2023, 3, 10, tzinfo=UTC), datetime(2023, 3, 11, tzinfo=UTC)
WINDOW = {"from": "2023-03-10T00:00:00Z", "to": "2023-03-11T00:00:00Z"}


@pytest.fixture
def system() -> Iterator[System]:
    system = in_memory_system()
    rows = read_rows(MARCH, start=START, end=END)
    cause = Cause(START, "test", "import", "import")
    system.trading.ingest_candles(
        hour_commands("KRW-BTC", rows.minutes.tolist(), rows.values, source="csv", cause=cause)
    )
    yield system
    system.close()


@pytest.fixture
def client(system: System) -> Iterator[TestClient]:
    with TestClient(create_app(system)) as client:
        yield client


def test_a_backtest_of_the_logs_candles_answers_the_use_cases_report_and_records_nothing(
    system: System, client: TestClient
) -> None:
    before = system.trading.recorder.max_notification_id()
    body = {**WINDOW, "max_order_krw": "2000000", "slippage_bps": "5"}

    answer = client.post("/backtests", json=body, headers=AUTH)

    assert answer.status_code == 200, answer.text
    tape = read_rows(MARCH, start=START, end=END).tape()
    inputs = BacktestInputs(
        ["volatility_breakout", "grid", "turtle"],
        {},
        positive_krw("10000000", "capital"),  # as `ledger backtest` reads its defaults
        FillModel(to_decimal("0.0005", "fee"), to_decimal("5", "slippage")),
        "KRW-BTC",
        Limits.parse(max_order_krw="2000000"),
    )
    expected = run_backtest(tape, inputs, scratch_ledger)
    expected.ledger.close()
    assert answer.json() == json.loads(json.dumps(expected.report))  # `--json`'s content
    assert system.trading.recorder.max_notification_id() == before


def test_a_backtest_needs_the_token(client: TestClient) -> None:
    answer = client.post("/backtests", json=WINDOW)
    assert answer.status_code == 401


def test_a_second_backtest_while_one_runs_is_refused_with_429(client: TestClient) -> None:
    gate = getattr(client.app.state, "backtest_gate")  # noqa: B009 - the app's own gate
    with gate:  # a backtest is running
        answer = client.post("/backtests", json=WINDOW, headers=AUTH)
    assert answer.status_code == 429
    assert answer.json()["error"]["code"] == "backtest_running"
    assert client.post("/backtests", json=WINDOW, headers=AUTH).status_code == 200


def test_a_range_over_the_limit_is_refused_with_413_naming_both_counts(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(backtests, "MAX_CANDLES", 600)
    answer = client.post("/backtests", json=WINDOW, headers=AUTH)
    assert answer.status_code == 413
    error = answer.json()["error"]
    assert error["code"] == "range_too_large"
    assert "holds 1,440 minutes of KRW-BTC; one backtest takes at most 600" in error["message"]


def test_a_range_without_candles_is_404_and_a_bad_input_422(client: TestClient) -> None:
    empty = client.post("/backtests", json={"from": "2024-01-01"}, headers=AUTH)
    assert empty.status_code == 404 and empty.json()["error"]["code"] == "no_candles"
    unknown = client.post("/backtests", json={**WINDOW, "strategies": ["martingale"]}, headers=AUTH)
    assert unknown.status_code == 422, unknown.text
    assert "martingale" in unknown.text
    capital = client.post("/backtests", json={**WINDOW, "capital_krw": "-5"}, headers=AUTH)
    assert capital.status_code == 422 and "capital" in capital.text
