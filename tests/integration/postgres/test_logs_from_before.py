"""Logs written by earlier code still verify and replay identically under today's code.

`tests/fixtures/logs/` holds `pg_dump -Fc` copies of two logs, each the repository's 8-day
candle fixture imported and a backtest of it persisted (`ledger backtest --from-log
--persist`): one written by 3276acd (audit chain format 2), one by 676d748 (format 3, before
issue 18 rebuilt the write side). Each is restored into its own schema; `ledger audit verify`
must find its chain intact and `ledger replay --verify` must give the replay hash that code
gave, both run as the CLI runs them.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from adapters.embedded.postgres_server import postgres_bin_dir
from api.cli.main import main
from tests.integration.conftest import PgServer

LOGS = Path(__file__).resolve().parents[2] / "fixtures" / "logs"
REPLAY_HASH = "edcc98865d3efe4f85f6661f2c9e39f50fc2f988f18afd99ac2a4ce55a39868e"
"""The persisted backtest's replay hash, as both earlier revisions computed it."""
HEAD_LINK_PREFIX = {"format2-3276acd": "f38fc84d", "format3-676d748": "dbdeae46"}
"""The first characters of each chain's head link, as the code that wrote it reported."""


@pytest.fixture(params=["format2-3276acd", "format3-676d748"])
def restored(
    request: pytest.FixtureRequest, postgres_endpoint: PgServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    name: str = request.param
    with psycopg.connect(postgres_endpoint.conninfo, autocommit=True) as conn:
        for schema in ("golden", "golden2"):
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
    restore = subprocess.run(
        [str(postgres_bin_dir() / "pg_restore"), "--no-owner", "-d", postgres_endpoint.conninfo,
         str(LOGS / f"{name}.dump")],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert restore.returncode == 0, restore.stderr
    with psycopg.connect(postgres_endpoint.conninfo) as conn:
        schema = str(
            conn.execute(
                "SELECT nspname FROM pg_namespace WHERE nspname IN ('golden', 'golden2')"
            ).fetchone()[0]  # type: ignore[index]
        )
    server = postgres_endpoint
    monkeypatch.setenv(
        "LEDGER_DATABASE__URL",
        f"postgresql://{server.user}@{server.host}:{server.port}/{server.dbname}",
    )
    monkeypatch.setenv("LEDGER_DATABASE__SCHEMA_NAME", schema)
    yield name
    with psycopg.connect(postgres_endpoint.conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


def test_a_log_from_before_verifies_and_replays_identically(
    restored: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # When today's CLI verifies the chain of a log written by earlier code
    assert main(["--data-dir", str(tmp_path), "audit", "verify", "--json"]) == 0
    audit = json.loads(capsys.readouterr().out)

    # Then every event is proven, up to the head that code reported
    assert audit["intact"] is True and audit["first_break"] is None
    assert audit["events_checked"] == audit["head"]["count"] == 616
    assert audit["head"]["link"].startswith(HEAD_LINK_PREFIX[restored])

    # And its persisted run replays to the same decisions and hash
    out = tmp_path / "replay.json"
    assert main(["--data-dir", str(tmp_path), "replay", "--verify", "--json", str(out)]) == 0
    (run,) = json.loads(out.read_text())
    assert run["identical"] is True and run["problems"] == []
    assert run["recorded_decisions"] == run["replayed_decisions"] == 130
    assert run["recorded_hash"] == run["replay_hash"] == REPLAY_HASH
