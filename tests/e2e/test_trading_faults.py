"""Faults under load: PostgreSQL and NATS each restarted while `ledger run` trades on a sandbox.

A paced sandbox runs in its own process; `ledger run` trades five hours of a volatile day on it
with a dense grid, while the test restarts the run's embedded PostgreSQL (down long enough for
the run to give up and restart) and then its embedded NATS server (down a few seconds), each
with `ledger services restart`. The run must finish on its own, the log must hold exactly an
uninterrupted run's decisions (`steady_decisions`, shared with the crash test), every order
must have reached the exchange once, the read models must have caught up with the whole log,
and each outage must have left its record: the trading service's restarts and a `reconnect`
reconciliation with nothing unexplained for PostgreSQL, the relay's and projectors' session
restarts for NATS.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from adapters.sandbox_exchange.control import SandboxControl
from api.cli.trading_run import pipeline_status_path
from tests.e2e.conftest import LEDGER, Cli
from tests.e2e.test_trading_crash import (
    CANDLES,
    FLAGS,
    decision_lines,
    environment,
    five_hours,  # noqa: F401 - the module fixture, shared
    orders_in_log,
    run_command,
    sandbox_orders,
    status_of,
    steady_decisions,  # noqa: F401 - the session fixture, shared
)
from tests.e2e.test_trading_sandbox import free_port
from tests.sandbox_process import sandbox_process

PG_DOWN_S = "20"
"""Longer than the faulty run's store waits for a connection (10 attempts x 1 s), so its
trading loop gives up and restarts; a shorter outage is absorbed by those retries."""
NATS_DOWN_S = "5"
AT_PG = CANDLES // 4
"""PostgreSQL is restarted once the run has traded this many candles."""
AFTER_PG = CANDLES // 6
"""NATS is restarted once the run has traded this many more after the PostgreSQL restart."""


@pytest.mark.timeout(1200)
def test_postgres_and_nats_restarted_while_trading_lose_and_double_nothing_and_leave_a_record(
    cli: Cli,
    five_hours: Path,  # noqa: F811
    steady_decisions: Callable[[Path], list[str]],  # noqa: F811
    tmp_path: Path,
) -> None:
    faulty = Cli(
        tmp_path / "faulty",
        f"{cli.schema}_f",
        env={
            "LEDGER_ENV": f"{cli.env['LEDGER_ENV']}f",
            "LEDGER_DATABASE__CONNECT_TIMEOUT_S": "1",
        },
    )
    try:
        # When a run on a fresh sandbox, with its own servers and schema, trades while
        # PostgreSQL, then NATS, is restarted
        output = tmp_path / "faulty-run.log"
        seen: list[dict[str, Any]] = []
        with sandbox_process(*FLAGS, candles=five_hours) as url, output.open("w") as log:
            process = subprocess.Popen(
                run_command(faulty, url, free_port()),
                env=environment(faulty), stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
            try:
                watch = _watcher(faulty, process, seen, output)
                watch(lambda s: s.get("candles", 0) >= AT_PG, f"{AT_PG} candles processed")
                at_pg = status_of(faulty).get("candles", 0)
                pg = _restart(faulty, "postgres", PG_DOWN_S)
                watch(
                    lambda s: s.get("restarts", 0) >= 1 and s.get("candles", 0) >= at_pg + AFTER_PG,
                    "trading again after the PostgreSQL restart",
                )
                at_nats = status_of(faulty).get("candles", 0)
                before_nats = _pipeline_of(faulty)
                nats = _restart(faulty, "nats", NATS_DOWN_S)
                watch(lambda s: s.get("state") == "finished", "the end of the candles")
                process.wait(timeout=300)
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait()
            ran = output.read_text()
            assert process.returncode == 0, ran[-4000:]
            exchange_orders = sandbox_orders(url)
            posts = SandboxControl(url).order_post_counts()

        # Then both servers were restarted in the middle of the run (new pids, same ports)
        restarted = {
            s["name"]: s for r in (pg, nats) for s in json.loads(_output(r))["services"]
            if s["action"] == "restarted"
        }  # fmt: skip
        assert set(restarted) == {"postgres", "nats"}, restarted
        assert AT_PG <= at_pg < at_nats < CANDLES, (at_pg, at_nats)

        # And the log holds exactly the uninterrupted run's decisions: none lost, none twice
        events = decision_lines(faulty)
        assert len(events) > 100
        steady_events = steady_decisions(five_hours)
        assert Counter(events) == Counter(steady_events)
        assert events == steady_events

        # And every order reached the exchange exactly once, and none is left unanswered
        log_orders = orders_in_log(faulty)
        sent = {o for o, status in log_orders.items() if status != "risk"}
        assert (
            len(exchange_orders) == len(set(exchange_orders)) == posts.to_book == len(sent) > 50
        ), posts
        assert posts.unread == 0, posts  # the system was never killed: every POST was read
        assert set(exchange_orders) == {str(o) for o in sent}
        assert "NEW" not in log_orders.values()

        # And the trading service records its restarts after the PostgreSQL outage
        final = status_of(faulty)
        assert final["state"] == "finished" and final["candles"] == CANDLES, final
        assert final["restarts"] >= 1, final
        restarting = [s for s in seen if s.get("state") == "restarting"]
        assert restarting, seen[-5:]
        assert any("Operational" in s["detail"] or "Interface" in s["detail"] for s in restarting)
        assert f"{final['restarts']} restarts" in ran

        # And a reconciliation after the reconnect, with nothing unexplained and trading active
        listed = faulty("reconciliations", "list", "--json")
        assert listed.returncode == 0, listed.stderr
        reconciliations = json.loads(listed.stdout)
        triggers = sorted(r["trigger"] for r in reconciliations["reconciliations"])
        assert triggers[0] == "reconnect" and triggers[-1] == "start", triggers
        assert triggers.count("start") == 1
        # (a reconciliation that could not reach the database is itself a restart, retried)
        assert 1 <= triggers.count("reconnect") <= final["restarts"], (triggers, final)
        assert all(r["unexplained"] == 0 for r in reconciliations["reconciliations"])
        assert reconciliations["trading_state"] == "ACTIVE"

        # And the read models caught up with the whole log after NATS came back, equal to a
        # rebuild from the log
        status = json.loads(faulty("status", "--json").stdout)
        heads = {row["head"] for row in status["read_models"]}
        assert len(heads) == 1 and heads.pop() > 0
        assert all(row["behind"] == 0 and row["parked"] is None for row in status["read_models"])
        verified = faulty("projections", "rebuild", "--all", "--verify", timeout=600)
        assert verified.returncode == 0, verified.stdout + verified.stderr

        # And the relay and every projector lost NATS, said so, reconnected and said that too;
        # the pipeline's record (`ledger status`) counts their reconnects
        pipeline = status["cqrs_pipeline"]
        assert set(pipeline["parts"]) == set(before_nats["parts"])
        assert len(pipeline["parts"]) == 1 + len(status["read_models"])
        for name, part in pipeline["parts"].items():
            assert part["state"] == "up", (name, part)
            assert part["restarts"] > before_nats["parts"][name]["restarts"], (name, part)
            assert part["last_error"], (name, part)
            assert f"{name}: connection lost" in ran, name
            assert f"{name}: working again" in ran, name
        assert f"CQRS pipeline {pipeline['reconnects']} reconnects" in ran
        assert "Traceback" not in ran, ran[-4000:]
    finally:
        subprocess.run(
            [LEDGER, "--data-dir", str(faulty.data_dir), "services", "down"],
            capture_output=True, timeout=120, check=False,
        )  # fmt: skip


def _pipeline_of(cli: Cli) -> dict[str, Any]:
    path = pipeline_status_path(cli.data_dir, cli.env["LEDGER_ENV"])
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def _restart(cli: Cli, name: str, down_s: str) -> subprocess.Popen[str]:
    """Start `ledger services restart NAME`, which returns once the server is up again."""
    return subprocess.Popen(
        [LEDGER, "--data-dir", str(cli.data_dir), "services", "restart", name,
         "--down-for", down_s, "--json"],
        env=environment(cli), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _output(process: subprocess.Popen[str]) -> str:
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stdout + stderr
    return stdout


def _watcher(
    cli: Cli, process: subprocess.Popen[bytes], seen: list[dict[str, Any]], output: Path
) -> Callable[[Callable[[dict[str, Any]], bool], str], None]:
    """Return a wait for a condition on the run's status, recording every status it reads."""

    def watch(condition: Callable[[dict[str, Any]], bool], what: str) -> None:
        deadline = time.monotonic() + 300
        while True:
            status = status_of(cli)
            if status and (not seen or seen[-1] != status):
                seen.append(status)
            if condition(status):
                return
            if process.poll() is not None:
                raise AssertionError(
                    f"the run ended ({process.returncode}) before {what}: {status}\n"
                    + output.read_text()[-4000:]
                )
            if time.monotonic() > deadline:
                raise AssertionError(f"no {what} in 300 s: {status}")
            time.sleep(0.02)

    return watch
