"""10,000 events through `ledger relay` and `ledger project` processes, each killed (SIGKILL)
mid-stream and started again, and the NATS server killed and restarted under load: the read
models equal a rebuild from the log; nothing is lost or applied twice.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable

import psycopg
from psycopg import sql

from adapters.postgres.event_store import ensure_schema, eventsourcing_env
from commands.trading import Trading
from projections.catalogue import PROJECTIONS
from tests.e2e.conftest import LEDGER, Cli
from tests.integration.nats.conftest import append_orders

ORDERS = 5_000  # two events each: 500-event batches, kills a fifth apart


def test_sigkilled_relay_projector_and_nats_lose_and_double_nothing(cli: Cli) -> None:
    url = cli.postgres_url()
    ensure_schema(url, cli.schema)
    app = Trading(eventsourcing_env(url, schema=cli.schema))
    try:
        append_orders(app, ORDERS, batch=500)
        head = app.recorder.max_notification_id() or 0
    finally:
        app.close()
    assert cli("migrate", "up").returncode == 0
    env = {**os.environ, "LEDGER_DATABASE__SCHEMA_NAME": cli.schema, **cli.env}
    base = [LEDGER, "--data-dir", str(cli.data_dir)]
    logs = {name: cli.data_dir.parent / f"{cli.schema}-{name}.log" for name in ("relay", "project")}

    def start(name: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [*base, name], env=env, stdout=logs[name].open("ab"), stderr=subprocess.STDOUT
        )

    def tracked() -> dict[str, int]:
        with psycopg.connect(url) as connection:
            rows = connection.execute(
                sql.SQL("SELECT projection, last_position FROM {}").format(
                    sql.Identifier(cli.schema, "projection_tracking")
                )
            ).fetchall()
        return {name: int(position) for name, position in rows}

    def until(condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + 120
        while not condition():
            assert time.monotonic() < deadline, f"timed out: {what}: {tracked()}; " + " | ".join(
                log.read_text()[-600:] for log in logs.values()
            )
            time.sleep(0.05)

    def least() -> int:
        positions = tracked()
        return min(positions.values()) if len(positions) == len(PROJECTIONS) else 0

    relay, project = start("relay"), start("project")
    kills = []
    try:
        until(lambda: least() >= head // 5, "a fifth projected")
        relay.send_signal(signal.SIGKILL)
        relay.wait()
        kills.append(f"relay at {least()}")
        relay = start("relay")
        until(lambda: least() >= 2 * head // 5, "two fifths projected")
        project.send_signal(signal.SIGKILL)
        project.wait()
        killed_at = least()
        kills.append(f"projector at {killed_at}")
        assert killed_at < head, kills  # mid-stream: some of the log was still to project
        project = start("project")
        until(lambda: least() >= 3 * head // 5, "three fifths projected")
        services = json.loads(cli("services", "status", "--json").stdout)["services"]
        nats_pid = next(s["pid"] for s in services if s["name"] == "nats")
        os.kill(nats_pid, signal.SIGKILL)
        kills.append(f"nats at {least()}")
        time.sleep(0.5)
        assert cli("services", "up").returncode == 0
        until(lambda: least() >= head, "all projected")
    finally:
        for process in (relay, project):
            process.send_signal(signal.SIGINT)
            process.wait(timeout=30)

    assert len(kills) == 3
    verified = cli("projections", "rebuild", "--all", "--verify", timeout=600)
    assert verified.returncode == 0, (kills, verified.stdout, verified.stderr)
    with psycopg.connect(url) as connection:
        (count,) = connection.execute(
            sql.SQL("SELECT count(*) FROM {}").format(
                sql.Identifier(cli.schema, "rm_event_timeline")
            )
        ).fetchone()  # type: ignore[misc]
        (logged,) = connection.execute(
            sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(cli.schema, "ledger_events"))
        ).fetchone()  # type: ignore[misc]
    assert count == logged >= 2 * ORDERS
