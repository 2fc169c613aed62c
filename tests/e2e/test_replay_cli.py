"""`ledger replay` as an operator or auditor runs it: identical runs, a changed log, bad input.

A persisted backtest and its first replay go through the real executable; the other commands
run `ledger` in this process (`Cli.inline`, the same entry point)."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tests.e2e.conftest import Cli

FIXTURE = (
    Path(__file__).parents[1] / "fixtures/candles/upbit-KRW-BTC-1m-2023-03-09_2023-03-16.csv.gz"
)


def printed_hash(output: str) -> str:
    return output.split("replay hash ")[1].split()[0]


def test_a_persisted_backtest_replays_identically_and_a_changed_fill_is_named(
    cli: Cli, tmp_path: Path
) -> None:
    # Given a backtest of 8 days of real candles persisted into the log
    persisted = cli("backtest", "--candles", str(FIXTURE), "--persist", timeout=300)
    assert persisted.returncode == 0, persisted.stderr
    # When the log is replayed with --verify
    out = tmp_path / "replay.json"
    replayed = cli("replay", "--verify", "--json", str(out), timeout=300)
    # Then the run is identical, with the hash the backtest printed
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert "identical" in replayed.stdout
    [outcome] = json.loads(out.read_text())
    assert outcome["identical"] and outcome["problems"] == []
    assert outcome["replay_hash"] == outcome["recorded_hash"] == printed_hash(persisted.stdout)
    assert outcome["candles"] == 11_520 and outcome["recorded_decisions"] > 50

    # Given one fill's price changed in the database afterwards
    with psycopg.connect(cli.postgres_url()) as conn:
        table = sql.Identifier(cli.schema, "ledger_events")
        position, state = conn.execute(
            sql.SQL(
                "SELECT notification_id, convert_from(state, 'UTF8') FROM {} "
                "WHERE topic = 'order.filled' ORDER BY notification_id LIMIT 1"
            ).format(table)
        ).fetchone()  # type: ignore[misc]
        price = json.loads(state)["price_krw"]["_data_"]
        changed = state.replace(f'"{price}"', f'"{int(price) + 1000}"')
        conn.execute(
            sql.SQL(
                "UPDATE {} SET state = convert_to(%s, 'UTF8') WHERE notification_id = %s"
            ).format(table),
            (changed, position),
        )
    events_before = cli.event_count()
    # When it is replayed again
    ledger = cli.inline()
    verified = ledger("replay", "--verify")
    # Then it exits 4, naming the changed event by its log position and the differing field
    assert verified.returncode == 4, verified.stdout + verified.stderr
    text = " ".join(verified.stdout.split())
    assert "order.filled of" in text and f"at log position {position}" in text
    assert f'price_krw: recorded "{int(price) + 1000}", replayed "{price}"' in text
    assert "the log was changed after the run" in text
    assert "runs replay differently from the log" in verified.stderr
    # And without --verify the same report exits 0; a replay appends nothing
    reported = ledger("replay")
    assert reported.returncode == 0 and "differs" in reported.stdout
    assert cli.event_count() == events_before


def test_a_persisted_backtest_with_risk_limits_replays_identically(
    cli: Cli, tmp_path: Path
) -> None:
    # Given a backtest with a drawdown limit that fires, persisted into the log
    ledger = cli.inline()
    persisted = ledger("backtest", "--candles", str(FIXTURE), "--max-drawdown", "0.02", "--persist")
    assert persisted.returncode == 0, persisted.stderr
    assert "limit fired at the candle of" in " ".join(persisted.stdout.split())
    # When the log is replayed with --verify
    out = tmp_path / "replay.json"
    replayed = ledger("replay", "--verify", "--json", str(out))
    # Then the run replays with its recorded limit: identical, with the printed hash
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    [outcome] = json.loads(out.read_text())
    assert outcome["identical"] and outcome["replay_hash"] == printed_hash(persisted.stdout)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--from", "yesterday"), "--from 'yesterday' is neither a log position"),
        (("--to", "2023-13-01"), "--to '2023-13-01' is neither a log position"),
        (("--run", "bt-nope"), "no runs bt-nope recorded in the event log"),
        (("--from", "2030-01-01"), "no runs recorded between --from 2030-01-01 and --to the end"),
    ],
)
def test_a_bad_replay_command_exits_2_naming_the_problem(
    cli: Cli, args: tuple[str, ...], message: str
) -> None:
    result = cli.inline()("replay", *args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in " ".join(result.stderr.split())
