"""Versioned migrations against a real PostgreSQL: apply, roll back, refuse, race."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from adapters.embedded.ports import pick_free_port
from adapters.postgres.migration_errors import (
    DuplicateMigrationVersionError,
    MalformedMigrationNameError,
    MigrationChecksumMismatchError,
    MigrationDatabaseUnavailableError,
    MigrationError,
    MigrationFailedError,
    MissingDownMigrationError,
    OutOfOrderMigrationError,
    UnknownAppliedMigrationError,
)
from adapters.postgres.migrator import Migrator
from tests.integration.conftest import PgTarget


class Ledger(Application[UUID]):
    """Named so that the library creates `ledger_events`, as the real application does."""


class Probe(Aggregate):
    @event("Noted")
    def __init__(self, note: str) -> None:
        self.note = note


def _create_event_table(target: PgTarget) -> None:
    Ledger(env=target.eventsourcing_env()).close()


def _connect(target: PgTarget, *, autocommit: bool = False) -> psycopg.Connection[tuple[Any, ...]]:
    return psycopg.connect(
        target.conninfo, autocommit=autocommit, options=f"-csearch_path={target.schema}"
    )


def _relations(target: PgTarget) -> set[str]:
    with psycopg.connect(target.conninfo) as conn:
        rows = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            [target.schema],
        ).fetchall()
    return {row[0] for row in rows}


def _write(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(exist_ok=True)
    for name, body in files.items():
        (directory / name).write_text(body)
    return directory


def _pair(version: int, name: str, up: str, down: str) -> dict[str, str]:
    return {f"{version:04d}_{name}.up.sql": up, f"{version:04d}_{name}.down.sql": down}


def test_migrations_apply_roll_back_and_apply_again_with_matching_status(
    pg_schema: PgTarget,
) -> None:
    _create_event_table(pg_schema)
    migrator = Migrator(pg_schema.conninfo, pg_schema.schema)
    ours = {
        "candles",
        "projection_tracking",
        "event_log",
        "rm_orders",
        "rm_candles_1d",
        "rm_book_changes",
        "rm_reconciliations",
        "run_leases",
        "rm_reconciliation_differences",
    }

    assert [s.is_applied for s in migrator.status()] == [False] * 9
    assert [m.version for m in migrator.up()] == [1, 2, 3, 4, 5, 6, 7, 8, 9]
    statuses = migrator.status()
    assert [(s.version, s.name) for s in statuses] == [
        (1, "candles"),
        (2, "projection_tracking"),
        (3, "event_log_view"),
        (4, "candles_hypertable"),
        (5, "read_models"),
        (6, "equity_curve"),
        (7, "reconciliations"),
        (8, "submit_rate_limit"),
        (9, "run_leases"),
    ]
    assert all(s.is_applied and s.checksum_ok and s.applied_at for s in statuses)
    assert ours <= _relations(pg_schema)

    assert [m.version for m in migrator.down()] == [9, 8, 7, 6, 5, 4, 3, 2, 1]
    assert not any(s.is_applied for s in migrator.status())
    assert _relations(pg_schema) & ours == set()

    assert [m.version for m in migrator.up()] == [1, 2, 3, 4, 5, 6, 7, 8, 9]
    assert migrator.up() == []
    assert all(s.is_applied for s in migrator.status())


def test_up_and_down_with_a_target_stop_at_that_version(pg_schema: PgTarget) -> None:
    migrator = Migrator(pg_schema.conninfo, pg_schema.schema)

    assert [m.version for m in migrator.up(target=2)] == [1, 2]
    assert [m.version for m in migrator.down(target=1)] == [2]
    assert [s.is_applied for s in migrator.status()] == [True] + [False] * 8


def test_event_log_view_shows_library_events_as_json(pg_schema: PgTarget) -> None:
    _create_event_table(pg_schema)
    Migrator(pg_schema.conninfo, pg_schema.schema).up()
    with Ledger(env=pg_schema.eventsourcing_env()) as app:
        probe = Probe(note="hello")
        app.save(probe)

    with _connect(pg_schema) as conn:
        rows = conn.execute(
            "SELECT position, bus_name, originator_id, originator_version, payload FROM event_log"
        ).fetchall()

    assert len(rows) == 1
    position, bus_name, originator_id, version, payload = rows[0]
    assert position >= 1 and originator_id == probe.id and version == 1
    assert bus_name.endswith("Probe.Noted")
    assert payload["note"] == "hello"


def test_candles_table_derives_kst_time_and_rejects_broken_candles(pg_schema: PgTarget) -> None:
    Migrator(pg_schema.conninfo, pg_schema.schema).up(target=1)
    insert = (
        "INSERT INTO candles (market, open_time, open, high, low, close, volume_btc, value_krw, "
        "source) VALUES ('KRW-BTC', %s, %s, %s, %s, %s, 1, 100, 'test')"
    )
    open_time = datetime(2026, 1, 2, 15, 0, tzinfo=UTC)

    with _connect(pg_schema, autocommit=True) as conn:
        conn.execute(insert, [open_time, 100, 110, 90, 105])
        row = conn.execute("SELECT open_time_kst, is_synthetic FROM candles").fetchone()
        assert row is not None
        assert row[0].isoformat() == "2026-01-03T00:00:00" and row[1] is False

        broken = [
            (open_time.replace(minute=1), 100, 90, 110, 100),  # high below low
            (open_time.replace(minute=2), 0, 1, 0, 1),  # non-positive prices
            (open_time.replace(second=30), 100, 110, 90, 105),  # not on a minute
            (open_time.replace(minute=3), Decimal(120), 110, 90, 105),  # open above high
        ]
        for row in broken:
            with pytest.raises(psycopg.errors.CheckViolation):
                conn.execute(insert, list(row))


def test_failing_migration_rolls_back_and_leaves_status_unchanged(
    pg_schema: PgTarget, tmp_path: Path
) -> None:
    files = _pair(1, "first", "CREATE TABLE first (id int);", "DROP TABLE first;")
    broken_up = "CREATE TABLE second (id int);\nINSERT INTO second VALUES (1);\nSELEC 1;\n"
    files |= _pair(2, "broken", broken_up, "DROP TABLE second;")
    migrator = Migrator(pg_schema.conninfo, pg_schema.schema, directory=_write(tmp_path, files))
    migrator.up(target=1)
    before = migrator.status()

    with pytest.raises(MigrationFailedError) as failure:
        migrator.up()

    assert "0002_broken.up.sql at line 3" in str(failure.value)
    assert 'syntax error at or near "SELEC"' in str(failure.value)
    assert not isinstance(failure.value.__cause__, MigrationError)
    assert migrator.status() == before
    assert _relations(pg_schema) == {"first", "schema_migrations"}


def test_changed_applied_migration_is_refused_by_checksum(
    pg_schema: PgTarget, tmp_path: Path
) -> None:
    directory = _write(tmp_path, _pair(1, "first", "CREATE TABLE a (id int);", "DROP TABLE a;"))
    migrator = Migrator(pg_schema.conninfo, pg_schema.schema, directory=directory)
    migrator.up()
    (directory / "0001_first.up.sql").write_text("CREATE TABLE a (id bigint);")

    with pytest.raises(MigrationChecksumMismatchError, match="0001_first.up.sql changed"):
        migrator.up()
    with pytest.raises(MigrationChecksumMismatchError):
        migrator.down()
    assert [s.checksum_ok for s in migrator.status()] == [False]


@pytest.mark.parametrize(
    ("files", "error", "named"),
    [
        ({"0001_a.up.sql": "SELECT 1;"}, MissingDownMigrationError, "0001_a.up.sql"),
        (_pair(1, "a", "", "") | _pair(1, "b", "", ""), DuplicateMigrationVersionError, "0001"),
        ({"1_a.up.sql": "", "1_a.down.sql": ""}, MalformedMigrationNameError, "1_a.down.sql"),
        ({"0001_A.up.sql": "", "0001_A.down.sql": ""}, MalformedMigrationNameError, "0001_A"),
    ],
)
def test_invalid_migration_files_are_refused_before_anything_is_applied(
    pg_schema: PgTarget,
    tmp_path: Path,
    files: dict[str, str],
    error: type[MigrationError],
    named: str,
) -> None:
    migrator = Migrator(pg_schema.conninfo, pg_schema.schema, directory=_write(tmp_path, files))

    with pytest.raises(error, match=named):
        migrator.up()
    assert "schema_migrations" not in _relations(pg_schema)


def test_applied_version_without_file_is_refused(pg_schema: PgTarget, tmp_path: Path) -> None:
    files = _pair(1, "a", "CREATE TABLE a (id int);", "DROP TABLE a;")
    directory = _write(tmp_path, files | _pair(2, "b", "SELECT 1;", "SELECT 1;"))
    migrator = Migrator(pg_schema.conninfo, pg_schema.schema, directory=directory)
    migrator.up()
    (directory / "0002_b.up.sql").unlink()
    (directory / "0002_b.down.sql").unlink()

    with pytest.raises(UnknownAppliedMigrationError, match="version 0002 \\(b\\)"):
        migrator.down()
    assert [(s.version, s.has_file) for s in migrator.status()] == [(1, True), (2, False)]


def test_pending_migration_older_than_applied_one_is_refused(
    pg_schema: PgTarget, tmp_path: Path
) -> None:
    directory = _write(tmp_path, _pair(2, "b", "SELECT 1;", "SELECT 1;"))
    migrator = Migrator(pg_schema.conninfo, pg_schema.schema, directory=directory)
    migrator.up()
    _write(tmp_path, _pair(1, "a", "SELECT 1;", "SELECT 1;"))

    with pytest.raises(OutOfOrderMigrationError, match="0001_a.up.sql is pending"):
        migrator.up()


def test_down_with_nothing_applied_returns_nothing(pg_schema: PgTarget) -> None:
    assert Migrator(pg_schema.conninfo, pg_schema.schema).down() == []


def test_two_concurrent_up_calls_apply_each_migration_once(
    pg_schema: PgTarget, tmp_path: Path
) -> None:
    # Each step appends the next number, so a step applied twice would leave a fifth row.
    files = _pair(1, "runs", "CREATE TABLE runs (n int);", "DROP TABLE runs;")
    step_up = "SELECT pg_sleep(0.2); INSERT INTO runs SELECT coalesce(max(n), 1) + 1 FROM runs;"
    step_down = "DELETE FROM runs WHERE n = (SELECT max(n) FROM runs);"
    for version in (2, 3, 4):
        files |= _pair(version, f"step{version}", step_up, step_down)
    directory = _write(tmp_path, files)
    barrier = threading.Barrier(2)
    results: list[list[int]] = []
    errors: list[BaseException] = []

    def migrate() -> None:
        migrator = Migrator(pg_schema.conninfo, pg_schema.schema, directory=directory)
        barrier.wait()
        try:
            results.append([m.version for m in migrator.up()])
        except BaseException as error:  # collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=migrate) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == [] and len(results) == 2
    assert sorted(v for applied in results for v in applied) == [1, 2, 3, 4]
    with _connect(pg_schema) as conn:
        rows = conn.execute("SELECT n FROM runs").fetchall()
    assert sorted(row[0] for row in rows) == [2, 3, 4]


def test_unreachable_database_raises_a_retryable_migration_error() -> None:
    migrator = Migrator(f"postgresql://postgres@127.0.0.1:{pick_free_port()}/postgres", "x")

    with pytest.raises(MigrationDatabaseUnavailableError, match="unreachable"):
        migrator.status()
