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
import psycopg
import psycopg.sql
import pytest

from domain.orders.order import Order
from projections.catalogue import PROJECTIONS
from tests.e2e.conftest import LEDGER, Cli
from tests.e2e.test_trading_crash import GRID, log_of
from tests.e2e.test_trading_sandbox import fixture_slice, free_port, wait_for_api

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
    candles = fixture_slice(tmp_path, "2023-03-13T00:00", "2023-03-13T01:00")
    postgres = cli.postgres_url()  # `ledger services up`
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
        # When the trading run trades an hour of a dense grid on the sandbox, alone (paced at 5
        # minutes a second at most: it holds its lease long enough for a second run to start)
        run_args = [
            "run", "--role", "trading", "--exchange", "sandbox", "--candles", str(candles),
            "--speed", "300", "--until-end", *GRID,
        ]  # fmt: skip
        trading = subprocess.Popen(
            [*base, *run_args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        try:
            # And a second `ledger run` on the same run starts while the first holds it
            holder = wait_for_lease_holder(cli, postgres, trading)
            second = cli(*run_args, timeout=120)
            # Then the second refuses, naming the holder, and changes nothing
            said = " ".join((second.stdout + second.stderr).split())
            assert second.returncode == 2, said[-3000:]
            assert f"is held by pid {trading.pid} on {holder} since " in said, said[-3000:]
            out, err = trading.communicate(timeout=600)
        finally:
            if trading.poll() is None:
                trading.kill()
                trading.wait()
        assert trading.returncode == 0, out[-3000:] + err[-3000:]
        assert "not here (--role trading" in " ".join(out.split()), out
        wait_for_api(f"http://127.0.0.1:{port}", services[-1])

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


def wait_for_lease_holder(cli: Cli, url: str, process: subprocess.Popen[str]) -> str:
    """Wait until `process` holds its run's lease (in the PostgreSQL at `url`); return the
    holder's host."""
    table = psycopg.sql.Identifier(cli.schema, "run_leases")
    deadline = time.monotonic() + 120
    while True:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the run never took its lease"
        with psycopg.connect(url, autocommit=True) as connection:
            exists = connection.execute(
                "SELECT to_regclass(%s)", [f'"{cli.schema}".run_leases']
            ).fetchone()
            if exists and exists[0]:
                row = connection.execute(
                    psycopg.sql.SQL("SELECT host FROM {} WHERE pid = %s").format(table),
                    [process.pid],
                ).fetchone()
                if row is not None:
                    return str(row[0])
        time.sleep(0.1)


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
