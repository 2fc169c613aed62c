"""`ledger project` and `ledger projections ...` as an operator runs them.

The relay, the projectors and a persisted backtest run as real `ledger` processes; the other
commands run `ledger` in this process (`Cli.inline`, the same entry point)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from projections.catalogue import PROJECTIONS
from tests.e2e.conftest import LEDGER, Cli


def status(cli: Cli) -> dict[str, dict[str, object]]:
    result = cli.inline()("projections", "status", "--json")
    assert result.returncode == 0, result.stderr
    return {row["name"]: row for row in json.loads(result.stdout)}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("projections", "rebuild"), "name one read model or give --all"),
        (("projections", "rebuild", "nope"), "no read model is called 'nope'"),
        (("projections", "rebuild", "orders", "--all"), "name one read model or give --all"),
        (("projections", "retry", "orders"), "read model orders has no parked event"),
        (("project", "orders", "nope"), "no read model is called 'nope'"),
    ],
)
def test_a_bad_projections_command_exits_2_naming_the_problem(
    cli: Cli, args: tuple[str, ...], message: str
) -> None:
    result = cli.inline()(*args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr.replace("\n", " ")


def test_rebuild_verify_passes_and_then_names_a_tampered_table(cli: Cli) -> None:
    ledger = cli.inline()
    assert (
        ledger("capital", "allocate", "--strategy", "manual", "--amount", "1000000").returncode == 0
    )
    rebuilt = ledger("projections", "rebuild", "--all")  # brings every read model to the head
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert all(row["behind"] == 0 for row in status(cli).values())
    verified = ledger("projections", "rebuild", "--all", "--verify")
    assert verified.returncode == 0, verified.stderr
    assert "rm_strategy_capital identical" in verified.stdout.replace("\n", " ")

    # When someone edits a read model by hand
    with psycopg.connect(cli.postgres_url()) as connection:
        connection.execute(
            sql.SQL("UPDATE {} SET cash_krw = cash_krw + 1").format(
                sql.Identifier(cli.schema, "rm_strategy_capital")
            )
        )
    # Then --verify finds it, names the table, and exits 4
    tampered = ledger("projections", "rebuild", "positions", "--verify")
    assert tampered.returncode == 4
    assert "positions.rm_strategy_capital" in tampered.stderr.replace("\n", " ")
    # And a rebuild without --verify repairs it
    assert ledger("projections", "rebuild", "positions").returncode == 0
    assert ledger("projections", "rebuild", "positions", "--verify").returncode == 0


FIXTURE = (
    Path(__file__).resolve().parents[1]
    / "fixtures"
    / "candles"
    / "upbit-KRW-BTC-1m-2023-03-09_2023-03-16.csv.gz"
)


def test_read_models_of_a_persisted_backtest_verify_against_a_rebuild(cli: Cli) -> None:
    # Given a backtest of 8 days of real candles persisted into the log
    persisted = cli("backtest", "--candles", str(FIXTURE), "--persist", timeout=300)
    assert persisted.returncode == 0, persisted.stderr
    # When the relay and the projectors run as their own processes until they have caught up
    env = {**os.environ, "LEDGER_DATABASE__SCHEMA_NAME": cli.schema, **cli.env}
    base = [LEDGER, "--data-dir", str(cli.data_dir)]
    processes = [
        subprocess.Popen([*base, name], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for name in ("relay", "project")
    ]
    try:
        deadline = time.monotonic() + 180
        while not all(row["behind"] == 0 for row in status(cli).values()):
            assert time.monotonic() < deadline, status(cli)
            ended = [p for p in processes if p.poll() is not None]
            assert not ended, [(p.args[-1], p.returncode, p.stderr.read()) for p in ended]  # type: ignore[union-attr]
            time.sleep(0.5)
    finally:
        for process in processes:
            process.send_signal(signal.SIGINT)
        for process in processes:
            code = process.wait(timeout=30)
            assert code == 0, (process.args[-1], code, process.stderr.read())  # type: ignore[union-attr]
    # Then every read model equals its rebuild from the log
    orders = status(cli)["orders"]
    assert int(orders["position"]) > 100  # the run's signals, orders, fills and cash
    verified = cli.inline()("projections", "rebuild", "--all", "--verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    tables = [table for projection in PROJECTIONS.values() for table in projection.tables]
    assert verified.stdout.count("identical") == len(tables) >= 16  # every read model's tables
    assert all(f"{table} identical" in verified.stdout for table in tables)
