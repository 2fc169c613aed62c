"""The trading system as separate services: the run, the relay, two projector groups, the API.

`ledger run --role trading` trades alone while `ledger relay`, two `ledger project ...`
processes (each a NATS consumer of its own read models) and `ledger api` run beside it; the
API then serves what the run logged, and every read model equals its rebuild from the log.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from domain.orders.order import Order
from projections.catalogue import PROJECTIONS
from tests.e2e.conftest import LEDGER, Cli
from tests.e2e.test_trading_crash import GRID, log_of
from tests.e2e.test_trading_risk import fixture_slice, wait_for_api
from tests.e2e.test_trading_sandbox import free_port

FIRST_GROUP = ("orders", "positions")


def projection_status(cli: Cli) -> dict[str, dict[str, object]]:
    result = cli("projections", "status", "--json")
    assert result.returncode == 0, result.stderr
    return {row["name"]: row for row in json.loads(result.stdout)}


@pytest.mark.timeout(900)
def test_the_run_relay_projectors_and_api_as_separate_processes_serve_what_the_run_logged(
    cli: Cli, tmp_path: Path
) -> None:
    # Given the relay, two projector groups and the API, each its own process
    candles = fixture_slice(tmp_path, "2023-03-13T00:00", "2023-03-13T06:00")
    assert cli("services", "up").returncode == 0
    assert cli("migrate", "up").returncode == 0
    env = {**os.environ, "LEDGER_DATABASE__SCHEMA_NAME": cli.schema, "COLUMNS": "200", **cli.env}
    base = [LEDGER, "--data-dir", str(cli.data_dir)]
    others = [name for name in PROJECTIONS if name not in FIRST_GROUP]
    port = free_port()
    commands = [
        [*base, "relay"],
        [*base, "project", *FIRST_GROUP],
        [*base, "project", *others],
        [*base, "api", "--port", str(port)],
    ]
    services = [
        subprocess.Popen(c, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for c in commands
    ]
    try:
        wait_for_api(f"http://127.0.0.1:{port}", services[-1])

        # When the trading run trades six hours of a dense grid on the sandbox, alone
        ran = cli(
            "run", "--role", "trading", "--exchange", "sandbox", "--candles", str(candles),
            "--speed", "1000000", "--until-end", *GRID, timeout=600,
        )  # fmt: skip
        assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
        assert "not here (--role trading" in " ".join(ran.stdout.split()), ran.stdout

        # Then the projectors catch up with the whole log
        deadline = time.monotonic() + 120
        while not all(row["behind"] == 0 for row in projection_status(cli).values()):
            assert time.monotonic() < deadline, projection_status(cli)
            ended = [p.args for p in services if p.poll() is not None]
            assert not ended, ended
            time.sleep(0.5)
        # And the API serves every order the run logged, with its state
        logged = orders_in_log(cli)
        assert len(logged) > 50
        served: dict[str, str] = {}
        cursor = None
        while True:
            params = {"limit": "200", **({"cursor": cursor} if cursor else {})}
            page = httpx.get(f"http://127.0.0.1:{port}/orders", params=params, timeout=10)
            assert page.status_code == 200, page.text
            body = page.json()
            served.update({o["order_id"]: o["status"] for o in body["items"]})
            cursor = body.get("next_cursor")
            if not cursor:
                break
        assert served == logged
    finally:
        for service in services:
            service.send_signal(signal.SIGINT)
        codes = [service.wait(timeout=30) for service in services]
    assert codes == [0, 0, 0, 0], [s.stderr.read() for s in services if s.stderr]  # type: ignore[union-attr]
    # And every read model equals its rebuild from the log
    verified = cli("projections", "rebuild", "--all", "--verify", timeout=300)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def orders_in_log(cli: Cli) -> dict[str, str]:
    """Return every order of the log with its status."""
    trading = log_of(cli)
    try:
        return {
            str(event.originator_id): trading.get_order(event.originator_id).status.value
            for _, event in trading.read_events([Order.Placed.TOPIC])
        }
    finally:
        trading.close()
