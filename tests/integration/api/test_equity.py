"""GET /equity over a persisted backtest: the curve the engine drew, marked from the read models."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from adapters.market_data.candles_csv import read_rows, read_tape
from commands.backtest.report import backtest_report
from commands.candle_import import hour_commands
from commands.log_copy import copy_events
from commands.run_engine.engine import IN_MEMORY_ENV, EngineConfig, RunEngine
from commands.trading import Trading
from domain.events import Cause
from domain.fills.paper_fill_model import FillModel
from domain.strategies.catalog import build_strategies
from tests.integration.api.conftest import Api

FIXTURE = (
    Path(__file__).resolve().parents[2]
    / "fixtures"
    / "candles"
    / "upbit-KRW-BTC-1m-2023-03-09_2023-03-16.csv.gz"
)
END = datetime(2023, 3, 17, tzinfo=UTC)
"""The fixture's eight days (the SVB-week swing); its last candle closes the last hour and day."""
ACCOUNT = "bt-equity-test"
STRATEGIES = ["volatility_breakout", "grid", "turtle"]
PARAMS = {
    "turtle": {"entry_days": "2", "atr_days": "2", "exit_days": "1"},  # trades within 8 days
    "grid": {"lower": "26000000", "upper": "34000000", "levels": "9"},
}


class Backtest:
    """A run in memory, as `ledger backtest --max-participation 0.05` runs it, and its report."""

    def __init__(self) -> None:
        self.trading = Trading(IN_MEMORY_ENV, account=ACCOUNT)
        model = FillModel(max_participation=Decimal("0.05"))  # some fills are partial
        config = EngineConfig("run-equity", Decimal("10000000"), model)
        self.engine = RunEngine(self.trading, build_strategies(STRATEGIES, PARAMS), config)
        self.tape = read_tape(FIXTURE, end=END)
        self.engine.run_tape(self.tape)
        self.report = backtest_report(self.engine)

    def book_at(self, name: str, at: datetime) -> tuple[Decimal, Decimal]:
        """Return the strategy's exact cash and BTC held after the candle closing at `at`."""
        index = self.tape.index_closing_at(at)
        cash, qty = Decimal(0), Decimal(0)
        for start, c, q in self.engine.tracks[name].changes:
            if start > index:
                break
            cash, qty = c, q
        return cash, qty


@pytest.fixture
def persisted(api: Api, request: pytest.FixtureRequest) -> Backtest:
    """The run's events and its candles in the log (`ledger import`, `backtest --persist`);
    the candles first unless the test asks for them after the run."""
    rows = read_rows(FIXTURE, end=END)
    cause = Cause(occurred_at=END, actor="test", causation_id="import", correlation_id="import")
    commands = hour_commands(
        "KRW-BTC", rows.minutes.tolist(), rows.values, source="csv:fixture", cause=cause
    )
    candles_after = getattr(request, "param", "candles first") == "candles after"
    if not candles_after:
        api.system.trading.ingest_candles(commands, assume_new=True)
    run = Backtest()
    copy_events(api.system.trading, run.trading)
    run.trading.close()
    if candles_after:
        api.system.trading.ingest_candles(commands, assume_new=True)
    return run


def curve(api: Api, limit: int = 1000, **params: Any) -> list[dict[str, Any]]:
    points: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {"account": ACCOUNT, "limit": limit, **params}
        page = api.client.get("/equity", params={**query, **({"cursor": cursor} if cursor else {})})
        assert page.status_code == 200, page.text
        points += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return points


@pytest.mark.parametrize("persisted", ["candles first", "candles after"], indirect=True)
def test_the_curve_ends_at_the_backtests_exact_final_equity_per_strategy_and_in_total(
    api: Api, persisted: Backtest
) -> None:
    api.project()
    report = persisted.report
    assert persisted.engine.last_time == END
    for name in STRATEGIES:
        assert report["strategies"][name]["fills"] > 0, name  # each strategy traded
        points = curve(api, strategy_id=name)
        assert len(points) == 8 * 24  # every hour's close from the first (01:00) to the last
        assert points[0]["at_utc"] == "2023-03-09T01:00:00+00:00"
        assert points[-1]["at_utc"] == "2023-03-17T00:00:00+00:00"
        assert points[-1]["at_kst"] == "2023-03-17T09:00:00+09:00"
        final = Decimal(report["strategies"][name]["final_equity"])
        assert Decimal(points[-1]["equity_krw"]) == final, name
        daily = curve(api, strategy_id=name, interval="1d")
        assert [p["at_utc"][:10] for p in daily] == [f"2023-03-{d}" for d in range(10, 18)]
        assert Decimal(daily[-1]["equity_krw"]) == final
    total = curve(api)
    assert Decimal(total[-1]["equity_krw"]) == Decimal(report["portfolio"]["final_equity"])


def test_every_hourly_point_is_the_engines_book_times_that_hours_close(
    api: Api, persisted: Backtest
) -> None:
    api.project()
    engine, tape = persisted.engine, persisted.tape
    for name in [*STRATEGIES, None]:
        names = STRATEGIES if name is None else [name]
        params = {} if name is None else {"strategy_id": name}
        for point in curve(api, **params):
            at = datetime.fromisoformat(point["at_utc"])
            books = [persisted.book_at(n, at) for n in names]
            cash, qty = sum(b[0] for b in books), sum(b[1] for b in books)
            assert (Decimal(point["cash_krw"]), Decimal(point["qty_btc"])) == (cash, qty)
            close = Decimal(point["close_krw"])
            assert close == Decimal(str(tape.close[tape.index_closing_at(at)]))
            assert Decimal(point["equity_krw"]) == cash + qty * close
            drawn = sum(engine.equity_curve(n)[tape.index_closing_at(at)] for n in names)
            assert math.isclose(float(point["equity_krw"]), drawn, rel_tol=1e-12), (name, at)


def test_the_curve_pages_by_mark_time_and_keeps_to_from_and_to(
    api: Api, persisted: Backtest
) -> None:
    api.project()
    whole = curve(api, strategy_id="grid")
    assert curve(api, limit=7, strategy_id="grid") == whole
    window = curve(
        api, strategy_id="grid", **{"from": "2023-03-10T00:00:00Z", "to": "2023-03-10T06:00:00Z"}
    )
    assert [p["at_utc"][11:13] for p in window] == ["00", "01", "02", "03", "04", "05"]
    assert window == [p for p in whole if "2023-03-10T00" <= p["at_utc"] < "2023-03-10T06"]
    assert curve(api, account="nobody") == []  # an unknown account has an empty curve
    assert curve(api, strategy_id="none-such") == []


def test_the_curve_waits_for_both_of_its_read_models(api: Api, persisted: Backtest) -> None:
    head = int(api.system.trading.recorder.max_notification_id() or 0)
    params = {"account": ACCOUNT, "min_position": head, "wait_s": 0.2, "limit": 1000}
    behind = api.client.get("/equity", params=params)
    assert behind.status_code == 409 and behind.json()["error"]["code"] == "read_model_behind"
    assert "positions" in behind.json()["error"]["message"]
    assert "candles" in behind.json()["error"]["message"]
    api.project()
    caught_up = api.client.get("/equity", params=params)
    assert caught_up.status_code == 200 and len(caught_up.json()["items"]) == 8 * 24


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("interval=1m", "interval"),
        ("account=no%20spaces", "account"),
        ("market=BTC", "market"),
        ("from=2023-03-10T00:00:00", "from"),
        ("cursor=bm90LWEtY3Vyc29y", "cursor"),
    ],
)
def test_a_malformed_equity_query_names_the_parameter(api: Api, query: str, field: str) -> None:
    answer = api.client.get(f"/equity?{query}")
    assert answer.status_code == 400, answer.text
    assert set(answer.json()) == {"error"} and field in answer.json()["error"]["message"]
