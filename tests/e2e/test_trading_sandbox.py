"""The trading system offline: `ledger run --exchange sandbox` over four hours of real candles.

Then `ledger parity` over the same range finds the backtest's decisions, and the HTTP API shows
the orders, positions and P&L that `ledger backtest --json` computes on those candles. The hours
cross the start of Upbit's day (09:00 KST) and hold a buy of the breakout and four fills of the
grid. Runs over days are equal to their backtest in process: in
`tests/unit/commands/processes/`, `test_exchange_run.py` (four days on an exchange) and
`test_trading_loop.py` (five on paper).
"""

from __future__ import annotations

import gzip
import json
import os
import socket
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import LEDGER, Cli
from tests.sandbox_process import FIXTURE

START, END = "2023-03-12T21:00", "2023-03-13T01:00"
"""Four hours (240 minutes) in which `ledger backtest` fills 5 orders: 1 breakout, 4 grid."""


def fixture_slice(directory: Path, start: str, end: str) -> Path:
    """Write the fixture's minutes in [start, end) (ISO prefixes) to a file; return it."""
    with gzip.open(FIXTURE, "rt") as source:
        lines = source.read().splitlines()
    path = directory / f"krw-btc-{start[:13]}.csv.gz"
    kept = [lines[0], *[x for x in lines[1:] if start <= x[:16] < end]]
    with gzip.open(path, "wt") as target:
        target.write("\n".join(kept) + "\n")
    return path


@pytest.fixture(scope="module")
def four_hours(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The hours from START to END of the real KRW-BTC fixture, as a file."""
    return fixture_slice(tmp_path_factory.mktemp("candles"), START, END)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.timeout(1200)
def test_sandbox_run_equals_a_backtest_in_parity_and_in_the_api(
    cli: Cli, four_hours: Path, tmp_path: Path
) -> None:
    # Given the whole system run offline against the sandbox over four hours, at high speed (and
    # beside it, `ledger backtest` on the same file)
    report_json = tmp_path / "backtest.json"
    with ThreadPoolExecutor(1) as beside:
        backtest = beside.submit(
            cli, "backtest", "--candles", str(four_hours), "--json", str(report_json)
        )
        ran = cli(
            "run", "--exchange", "sandbox", "--candles", str(four_hours), "--speed", "30000",
            "--until-end", "--port", str(free_port()), timeout=1200,
        )  # fmt: skip
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    assert "finished: 240 candles processed" in ran.stdout.replace("\n", " "), ran.stdout

    # And the run was reconciled with the sandbox when it started, with nothing to tell
    listed = cli("reconciliations", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    reconciliations = json.loads(listed.stdout)
    (start,) = reconciliations["reconciliations"]
    assert (start["trigger"], start["differences"], start["unexplained"]) == ("start", [], 0)
    assert Decimal(start["krw_free"]) == Decimal(start["ledger_krw"]) > 0
    assert reconciliations["trading_state"] == "ACTIVE"
    status = json.loads(cli("status", "--json").stdout)
    (last,) = status["reconciliation"]["last"].values()
    assert last["reconciliation_id"] == start["reconciliation_id"]
    assert status["reconciliation"]["waiting_for_acknowledgement"] == []

    # When parity replays the candles the run saw through the backtest (the API starting beside)
    with api_server(cli) as api:
        parity_json = tmp_path / "parity.json"
        parity = cli(
            "parity", "--from", f"{START}:00+00:00", "--to", f"{END}:00+00:00",
            "--json", str(parity_json),
        )  # fmt: skip

        # Then the hashes are equal, over a run that did trade
        assert parity.returncode == 0, parity.stdout + parity.stderr
        (outcome,) = json.loads(parity_json.read_text())
        assert outcome["equal"] and outcome["system_hash"] == outcome["backtest_hash"]
        assert outcome["decisions"] > 20

        # And the API shows the orders, positions and P&L of `ledger backtest` on the same file
        assert backtest.result().returncode == 0, backtest.result().stderr
        report = json.loads(report_json.read_text())
        views = api_views(*api)
    traded = 0
    for name, expected in report["strategies"].items():
        position = views["positions"].get(name)
        assert views["capital"][name] == Decimal(expected["final_cash"]), name
        assert (position["qty_btc"] if position else Decimal(0)) == Decimal(
            expected["final_qty_btc"]
        ), name
        assert (position["fees_krw"] if position else Decimal(0)) == Decimal(
            expected["fees_krw"]
        ), name
        assert views["orders"].get(name, Counter()) == orders_of(expected["trades"]), name
        assert views["equity"][name] == Decimal(expected["final_equity"]), name
        traded += expected["fills"]
    assert traded >= 5  # 5 fills in these hours


def orders_of(trades: list[dict[str, Any]]) -> Counter[tuple[str, Decimal, Decimal, Decimal]]:
    """Return the backtest's orders as (side, BTC, KRW, fees) sums of their fills."""
    sums: dict[str, list[Any]] = {}
    for t in trades:
        qty, price, fee = Decimal(t["qty_btc"]), Decimal(t["price"]), Decimal(t["fee_krw"])
        entry = sums.setdefault(t["order_id"], [t["side"], Decimal(0), Decimal(0), Decimal(0)])
        entry[1] += qty
        entry[2] += qty * price
        entry[3] += fee
    return Counter((s, q.normalize(), k.normalize(), f.normalize()) for s, q, k, f in sums.values())


@contextmanager
def api_server(cli: Cli) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Start `ledger api` on the run's read models; yield its base URL and process (it may not
    answer yet); stop it after."""
    port = free_port()
    env = {**os.environ, **cli.env, "LEDGER_DATABASE__SCHEMA_NAME": cli.schema}
    server = subprocess.Popen(
        [LEDGER, "--data-dir", str(cli.data_dir), "api", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield f"http://127.0.0.1:{port}", server
    finally:
        server.terminate()
        server.wait(10)


def api_views(base: str, server: subprocess.Popen[bytes]) -> dict[str, Any]:
    """Read every strategy's orders, book and P&L from the API at `base`, once it answers."""
    wait_for_api(base, server)
    orders: dict[str, Counter[tuple[str, Decimal, Decimal, Decimal]]] = {}
    cursor = None
    while True:
        params = {"limit": "200", **({"cursor": cursor} if cursor else {})}
        page = httpx.get(f"{base}/orders", params=params, timeout=10).json()
        for o in page["items"]:
            if Decimal(o["filled_btc"]) > 0:
                key = (
                    o["side"],
                    Decimal(o["filled_btc"]).normalize(),
                    Decimal(o["filled_krw"]).normalize(),
                    Decimal(o["fees_krw"]).normalize(),
                )
                orders.setdefault(o["strategy_id"], Counter())[key] += 1
        cursor = page.get("next_cursor")
        if not cursor:
            break
    capital = {
        c["strategy_id"]: Decimal(c["cash_krw"])
        for c in httpx.get(f"{base}/capital", timeout=10).json()
    }
    positions = {
        p["strategy_id"]: {k: Decimal(p[k]) for k in ("qty_btc", "fees_krw")}
        for p in httpx.get(f"{base}/positions", timeout=10).json()
    }
    equity = {}
    for name in capital:
        params = {"strategy_id": name, "interval": "1h", "limit": "200"}
        while True:
            curve = httpx.get(f"{base}/equity", params=params, timeout=10).json()
            if curve["items"]:
                equity[name] = Decimal(curve["items"][-1]["equity_krw"])
            if not curve["next_cursor"]:
                break
            params["cursor"] = curve["next_cursor"]
    return {"orders": orders, "capital": capital, "positions": positions, "equity": equity}


def wait_for_api(api: str, process: subprocess.Popen[Any]) -> None:
    """Wait until the run's API answers."""
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{api}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert process.poll() is None, "the run ended before its API answered"
        assert time.monotonic() < deadline, "the run's API did not answer within 60 s"
        time.sleep(0.1)
