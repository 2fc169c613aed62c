"""Crash safety, the smoke test: the whole system killed (SIGKILL) on its way from signal to fill.

A paced sandbox runs in its own process, as an exchange would; `ledger run` trades on it and is
killed twice at a random moment while it processes candles (after its restart work is done),
then started again, until the sandbox's candles are used up. The exchange then holds every
order once, none that the log does not know, and the log holds exactly the decisions of an
uninterrupted run of the same candles. The kill points themselves (just before and after every
save and every request to the exchange) are covered in process (`tests/chaos/kill_points.py`:
60 in CI, in `tests/unit/commands/processes/test_kill_points.py`, and 10,000 with `make
chaos`); this test kills the real processes, so the same holds for `ledger run` on PostgreSQL
and a real exchange, and for a run restarted after a kill and killed again.
"""

from __future__ import annotations

import fcntl
import gzip
import hashlib
import json
import os
import random
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from adapters.sandbox_exchange.app import SANDBOX_KEYS
from adapters.sandbox_exchange.control import SandboxControl
from adapters.upbit.auth import UpbitCredentials
from adapters.upbit.rest import UpbitRestClient
from api.bootstrap import bootstrap
from api.cli.trading_run import status_path
from api.settings import Settings
from commands.trading import Trading
from domain.orders.order import Order
from domain.replay_hash import canonical_json, is_decision_topic
from tests.e2e.conftest import LEDGER, Cli, new_cli
from tests.e2e.test_trading_sandbox import free_port
from tests.sandbox_process import FIXTURE, sandbox_process

KILLS = 2
START = "2023-03-13T00:00:00+00:00"
END = "2023-03-13T05:00"
CANDLES = 300
"""The minutes from START to END: five hours of a volatile day, some 250 orders with the grid."""
FLAGS = ("--paced", "--speed", "30000", "--start", START, "--krw", "30000000")
"""The sandbox of every run of these candles: paced, from START, funded for every strategy."""
GRID = ("--param", "grid.levels=40", "--param", "grid.range_pct=0.02")
KEY = UpbitCredentials("sandbox-access-key", SecretStr(SANDBOX_KEYS["sandbox-access-key"]))


@pytest.fixture(scope="module")
def five_hours(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Five hours of a volatile day (CANDLES minutes) of the real KRW-BTC fixture."""
    with gzip.open(FIXTURE, "rt") as source:
        lines = source.read().splitlines()
    path = tmp_path_factory.mktemp("candles") / "krw-btc-5-hours.csv.gz"
    kept = [lines[0], *[x for x in lines[1:] if START[:16] <= x[:16] < END]]
    assert len(kept) == 1 + CANDLES
    with gzip.open(path, "wt") as target:
        target.write("\n".join(kept) + "\n")
    return path


@pytest.fixture(scope="session")
def steady_decisions(
    e2e_data_dir: Path, tmp_path_factory: pytest.TempPathFactory, worker_id: str
) -> Callable[[Path], list[str]]:
    """Return what gives the decision events of an uninterrupted run of a candle file.

    The run is `ledger run --role trading` (the trading run alone: the relay and read models
    decide nothing) on its own sandbox, in a schema of its own in the session's servers. It
    runs once for the whole test session, by the first test that asks; every worker of the
    session reads its decisions from a file beside their temporary directories.
    """
    shared = tmp_path_factory.getbasetemp()
    if worker_id != "master":  # pytest-xdist: the parent of the workers' directories
        shared = shared.parent

    def decisions(candles: Path) -> list[str]:
        with gzip.open(candles, "rb") as source:
            key = hashlib.sha256(source.read() + repr((FLAGS, GRID)).encode()).hexdigest()
        cached = shared / f"steady-decisions-{key[:16]}.json"
        with (shared / "steady-decisions.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
            if not cached.exists():
                cached.write_text(json.dumps(uninterrupted_run(new_cli(e2e_data_dir), candles)))
        lines: list[str] = json.loads(cached.read_text())
        return lines

    return decisions


def uninterrupted_run(cli: Cli, candles: Path) -> list[str]:
    """Trade the candles on a fresh sandbox to their end, uninterrupted; return its decisions."""
    with sandbox_process(*FLAGS, candles=candles) as url:
        done = subprocess.run(
            [*run_command(cli, url, free_port()), "--role", "trading"],
            env=environment(cli), capture_output=True, text=True, timeout=900, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return decision_lines(cli)


def run_command(cli: Cli, url: str, port: int) -> list[str]:
    return [
        LEDGER, "--data-dir", str(cli.data_dir), "run", "--exchange", "sandbox",
        "--exchange-url", url, "--until-end", "--port", str(port), "--run-id", "crash-test",
        *GRID,
    ]  # fmt: skip


def environment(cli: Cli) -> dict[str, str]:
    return {**os.environ, "LEDGER_DATABASE__SCHEMA_NAME": cli.schema, "COLUMNS": "200", **cli.env}


def status_of(cli: Cli) -> dict[str, Any]:
    path = status_path(cli.data_dir, cli.env["LEDGER_ENV"])
    try:
        loaded: dict[str, Any] = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
    return loaded


@pytest.mark.timeout(1800)
def test_system_killed_while_trading_sends_each_order_once_and_logs_an_unbroken_runs_events(
    cli: Cli, five_hours: Path, steady_decisions: Callable[[Path], list[str]]
) -> None:
    # Given a run on a fresh sandbox, killed KILLS times while it trades, and restarted
    rng = random.Random(7)
    kills = 0
    with sandbox_process(*FLAGS, candles=five_hours) as url:
        while True:
            before = status_of(cli).get("candles", 0)
            process = subprocess.Popen(
                run_command(cli, url, free_port()),
                env=environment(cli), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                start_new_session=True,
            )  # fmt: skip
            if kills < KILLS and wait_until_trading(cli, process, before):
                time.sleep(rng.uniform(0.0, 0.4))
                if process.poll() is None:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
                    kills += 1
                    continue
            _, stderr = process.communicate(timeout=900)
            assert process.returncode == 0, stderr[-3000:]
            break
        exchange_orders = sandbox_orders(url)
        posts = SandboxControl(url).order_post_counts()

    # Then it was killed KILLS times, every order reached the exchange's order book once, none is
    # orphaned, and the log holds exactly an uninterrupted run's decisions. (A POST whose
    # process was killed before the sandbox read it, or that the rate gate refused, reached no
    # order book: the restarted run finds no order by its identifier and sends it again.)
    assert kills == KILLS
    assert status_of(cli)["candles"] == CANDLES
    log_orders = orders_in_log(cli)
    sent = {o for o, status in log_orders.items() if status != "risk"}
    assert len(exchange_orders) == len(set(exchange_orders)) == posts.to_book == len(sent), posts
    assert set(exchange_orders) == {str(o) for o in sent}
    assert "NEW" not in log_orders.values()
    events = decision_lines(cli)
    steady_events = steady_decisions(five_hours)
    assert len(events) > 100
    assert Counter(events) == Counter(steady_events)
    assert events == steady_events


def wait_until_trading(cli: Cli, process: subprocess.Popen[str], before: int) -> bool:
    """Wait until the restarted run processes a candle it had not; False if it ended first."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        status = status_of(cli)
        if status.get("state") in ("running", "waiting") and status.get("candles", 0) > before:
            return True
        time.sleep(0.01)
    raise AssertionError(f"the restarted run made no progress in 120 s: {status_of(cli)}")


def log_of(cli: Cli) -> Trading:
    settings = Settings(data_dir=cli.data_dir, database={"schema_name": cli.schema})
    return bootstrap(settings, start_embedded=False).trading


def decision_lines(cli: Cli) -> list[str]:
    """Return the log's decision events as canonical JSON, in log order."""
    trading = log_of(cli)
    try:
        notes = trading.recorder.select_notifications(start=None, limit=10**9)
        return [
            canonical_json(n.topic, vars(trading.mapper.to_domain_event(n)))
            for n in notes
            if is_decision_topic(n.topic)
        ]
    finally:
        trading.close()


def orders_in_log(cli: Cli) -> dict[Any, str]:
    """Return each order of the log with its status (`risk` for one refused by risk)."""
    trading = log_of(cli)
    try:
        found: dict[Any, str] = {}
        for _, event in trading.read_events([Order.Placed.TOPIC, Order.Rejected.TOPIC]):
            if isinstance(event, Order.Rejected) and event.rejected_by == "risk":
                found[event.originator_id] = "risk"
            elif isinstance(event, Order.Placed):
                found[event.originator_id] = trading.get_order(event.originator_id).status.name
        return found
    finally:
        trading.close()


def sandbox_orders(url: str) -> list[str]:
    """Return the identifiers of every order the sandbox holds, open or closed."""
    with UpbitRestClient(url, credentials=KEY) as client:
        orders = client.get_open_orders("KRW-BTC", limit=100)
        orders += client.get_closed_orders("KRW-BTC", limit=1000)
    return [o.identifier for o in orders if o.identifier]
