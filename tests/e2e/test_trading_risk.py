"""Risk in the running system: a daily-loss halt as in the backtest, and an operator's halt.

`ledger run --exchange sandbox --daily-loss-krw` halts on the candle at which `ledger backtest`
with the same limit halts, and places nothing after; an operator halts a running system through
the API, it places nothing until resumed, and resuming needs an actor and a reason. `ledger
parity` finds the backtest's decisions in both (the operator's changes replayed at the candles
the run applied them).
"""

from __future__ import annotations

import json
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.sandbox_exchange.control import SandboxControl
from adapters.upbit.rest import UpbitRestClient
from domain.orders.order import Order
from domain.risk.limits import RiskLimits
from tests.e2e.conftest import Cli
from tests.e2e.test_trading_crash import (
    KEY,
    environment,
    log_of,
    orders_in_log,
    run_command,
    sandbox_orders,
    status_of,
)
from tests.e2e.test_trading_sandbox import fixture_slice, free_port, wait_for_api
from tests.sandbox_process import sandbox_process

TOKEN = "e2e-risk-token-0123456789"
DAILY_LOSS = "20000"
"""A limit the fixture's trading day of 2023-03-09 crosses at 18:30 UTC (03:30 KST), half an hour
into LOSING_HOUR, when the grid of LOSING_GRID buys into its fall."""
LOSING_HOUR = ("2023-03-09T18:00", "2023-03-09T19:00")
LOSING_GRID = (
    "--param", "grid.levels=20", "--param", "grid.range_pct=0.02",
    "--param", "grid.order_krw=1000000",
)  # fmt: skip
"""A dense grid of large orders: 8 fills in LOSING_HOUR, at a loss."""
STEP = 60
"""The candles the operator's run trades before the halt, and halted: of 240, paced at 100 a
second at most, so that the resume comes well before the end."""


def risk_events(cli: Cli) -> list[dict[str, Any]]:
    """Return the log's risk record changes and breaches, in order, as plain dicts."""
    trading = log_of(cli)
    topics = [
        RiskLimits.LimitBreached.TOPIC,
        RiskLimits.TradingHalted.TOPIC,
        RiskLimits.TradingResumed.TOPIC,
    ]
    try:
        return [{"topic": type(e).TOPIC, **vars(e)} for _, e in trading.read_events(topics)]  # type: ignore[attr-defined]
    finally:
        trading.close()


def order_events(cli: Cli) -> list[Any]:
    """Return the log's order placements, acceptances, rejections and cancels, in order."""
    trading = log_of(cli)
    topics = [Order.Placed.TOPIC, Order.Accepted.TOPIC, Order.Rejected.TOPIC, Order.Cancelled.TOPIC]
    try:
        return [e for _, e in trading.read_events(topics)]
    finally:
        trading.close()


def parity_of(cli: Cli, tmp_path: Path) -> dict[str, Any]:
    """Run `ledger parity --json` and return its one outcome."""
    out = tmp_path / "parity.json"
    result = cli("parity", "--json", str(out), timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    (outcome,) = json.loads(out.read_text())
    return dict(outcome)


@pytest.mark.timeout(900)
def test_a_daily_loss_halts_the_sandbox_run_on_the_candle_the_backtest_halts_on(
    cli: Cli, tmp_path: Path
) -> None:
    # Given an hour of real candles and a daily loss limit a dense grid crosses in it
    candles = fixture_slice(tmp_path, *LOSING_HOUR)

    # When the system trades them on the sandbox with the limit, and a backtest runs with it
    report_json = tmp_path / "backtest.json"
    with ThreadPoolExecutor(1) as beside:
        backtest = beside.submit(
            cli, "backtest", "--candles", str(candles), "--daily-loss-krw", DAILY_LOSS,
            *LOSING_GRID, "--json", str(report_json),
        )  # fmt: skip
        ran = cli(
            "run", "--exchange", "sandbox", "--candles", str(candles), "--speed", "1000000",
            "--until-end", "--port", str(free_port()), "--daily-loss-krw", DAILY_LOSS,
            *LOSING_GRID, timeout=900,
        )  # fmt: skip
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    assert backtest.result().returncode == 0, backtest.result().stderr
    (fired,) = json.loads(report_json.read_text())["risk"]["fired"]

    # Then the run's monitor halted on the same candle, for the same loss
    events = risk_events(cli)
    (breach,) = [e for e in events if e["topic"] == "risk.limit.breached"]
    (halt,) = [e for e in events if e["topic"] == "risk.trading.halted"]
    assert breach["candle_open_time"].isoformat() == fired["candle_open_utc"]
    assert breach["measured"] == Decimal(fired["measured"])
    assert halt["actor"] == "risk-monitor" and "daily_loss" in halt["reason"]
    # And the orders open at the halt were cancelled with it, for the breach
    orders = order_events(cli)
    cancels = [e for e in orders if isinstance(e, Order.Cancelled)]
    assert cancels and all(e.occurred_at == halt["occurred_at"] for e in cancels)
    assert all("daily_loss" in e.reason for e in cancels)
    # And nothing was accepted after the halt; what the strategies still decided was denied
    later = [e for e in orders if e.occurred_at > halt["occurred_at"]]
    assert not [e for e in later if isinstance(e, Order.Accepted)]
    denied = [e for e in later if isinstance(e, Order.Rejected)]
    assert all(e.rejected_by == "risk" and e.reason.startswith("trading_halted") for e in denied)
    # And parity with the backtest holds over the whole run
    outcome = parity_of(cli, tmp_path)
    assert outcome["equal"], outcome["first_difference"]


@pytest.mark.timeout(900)
def test_an_operator_halt_through_the_api_stops_orders_until_resumed_with_actor_and_reason(
    cli: Cli, tmp_path: Path
) -> None:
    # Given the system trading a dense grid on the sandbox, its API up with a token
    candles = fixture_slice(tmp_path, "2023-03-13T00:00", "2023-03-13T04:00")
    flags = ("--paced", "--speed", "6000", "--start", "2023-03-13T00:00:00+00:00")
    port = free_port()
    api = f"http://127.0.0.1:{port}"
    env = {**environment(cli), "LEDGER_API__TOKEN": TOKEN}
    with sandbox_process(*flags, "--krw", "30000000", candles=candles) as url:
        process = subprocess.Popen(
            [*run_command(cli, url, port)], env=env, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            wait_for_candles(cli, process, STEP)
            wait_for_api(api, process)

            # When an operator halts trading through the API
            auth = {"Authorization": f"Bearer {TOKEN}"}
            halted = httpx.post(
                f"{api}/risk/halt", json={"reason": "drill: halt"},
                headers={**auth, "X-Actor": "alice"}, timeout=10,
            )  # fmt: skip
            assert halted.status_code == 202, halted.text
            wait_for_candles(cli, process, status_of(cli)["candles"] + STEP)
            # And tries to resume without saying who resumes, then with an actor and a reason
            anonymous = httpx.post(
                f"{api}/risk/resume", json={"reason": "drill over"}, headers=auth, timeout=10
            )
            no_reason = httpx.post(
                f"{api}/risk/resume", json={}, headers={**auth, "X-Actor": "bob"}, timeout=10
            )
            resumed = httpx.post(
                f"{api}/risk/resume", json={"reason": "drill over"},
                headers={**auth, "X-Actor": "bob"}, timeout=10,
            )  # fmt: skip
            _, stderr = process.communicate(timeout=600)
            assert process.returncode == 0, stderr[-3000:]
        finally:
            if process.poll() is None:
                process.kill()
        exchange_orders = sandbox_orders(url)
        posts = SandboxControl(url).order_post_counts()
        with UpbitRestClient(url, credentials=KEY) as client:
            still_open = client.get_open_orders("KRW-BTC", limit=100)

    # Then the resume without an actor or a reason was refused, and the one with both accepted
    assert anonymous.status_code == 422 and anonymous.json()["error"]["code"] == "actor_required"
    assert no_reason.status_code in (400, 422), no_reason.text
    assert resumed.status_code == 202, resumed.text
    changes = [e for e in risk_events(cli) if e["topic"] != "risk.limit.breached"]
    assert [(e["topic"], e["actor"], e["reason"]) for e in changes] == [
        ("risk.trading.halted", "api:alice", "drill: halt"),
        ("risk.trading.resumed", "api:bob", "drill over"),
    ]
    # And the run cancelled its open orders at the first candle after the halt
    orders = order_events(cli)
    cancels = [e for e in orders if isinstance(e, Order.Cancelled) and "drill: halt" in e.reason]
    assert cancels
    halted_at = cancels[0].occurred_at
    assert all(e.occurred_at == halted_at for e in cancels)
    # And placed nothing after it, at the exchange too, where its orders were cancelled (the
    # grid stops for good when risk ends its orders, strategies-notes.md "Grid"; the other
    # strategies had no signal before the end)
    assert not [e for e in orders if isinstance(e, Order.Accepted) and e.occurred_at > halted_at]
    assert still_open == []
    log_orders = orders_in_log(cli)
    sent = {o for o, status in log_orders.items() if status != "risk"}
    assert len(exchange_orders) == len(set(exchange_orders)) == posts.to_book == len(sent), posts
    assert posts.unread == 0, posts  # no process was killed: no POST was left unread
    # And parity replays the operator's changes at the same candles: equal
    outcome = parity_of(cli, tmp_path)
    assert outcome["equal"], outcome["first_difference"]


def wait_for_candles(cli: Cli, process: subprocess.Popen[str], candles: int) -> None:
    """Wait until the run has processed `candles` candles."""
    deadline = time.monotonic() + 300
    while status_of(cli).get("candles", 0) < candles:
        assert process.poll() is None, f"the run ended early: {status_of(cli)}"
        assert time.monotonic() < deadline, f"no progress: {status_of(cli)}"
        time.sleep(0.05)
