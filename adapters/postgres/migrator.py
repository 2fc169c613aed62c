"""Versioned SQL migrations of one schema: apply, roll back and report, one transaction each."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import psycopg
from psycopg import sql

from adapters.postgres.event_store import schema_lock_key
from adapters.postgres.migration_errors import (
    MigrationChecksumMismatchError,
    MigrationDatabaseError,
    MigrationDatabaseUnavailableError,
    MigrationFailedError,
    OutOfOrderMigrationError,
    UnknownAppliedMigrationError,
)
from adapters.postgres.migration_files import Migration, default_directory, load_migrations

BOOKKEEPING_TABLE = "schema_migrations"


@dataclass(frozen=True)
class MigrationStatus:
    """One version: applied or not, and whether its file still matches what was applied.

    `has_file` is False for a version applied to the database that no file exists for.
    """

    version: int
    name: str
    applied_at: datetime | None
    is_applied: bool
    checksum_ok: bool
    has_file: bool = True


@dataclass(frozen=True)
class _Applied:
    version: int
    name: str
    checksum: str
    applied_at: datetime


class Migrator:
    """The migrations of `directory` (default: the ``migrations`` package) in `schema`.

    Bookkeeping lives in ``<schema>.schema_migrations``, created with the schema on first use.
    Each migration runs in one transaction with its bookkeeping row, after
    ``SET LOCAL search_path TO <schema>`` (so SQL files name no schema) and under a
    transaction-level advisory lock per schema (so concurrent migrators apply each version once).
    Every error is a `MigrationError`; no psycopg exception escapes.
    """

    def __init__(
        self,
        conninfo: str,
        schema: str,
        *,
        directory: Path | None = None,
        connect_timeout_s: int = 10,
    ) -> None:
        self._conninfo = conninfo
        self._schema = schema
        self._directory = directory if directory is not None else default_directory()
        self._connect_timeout_s = connect_timeout_s
        self._table = sql.Identifier(schema, BOOKKEEPING_TABLE)
        self._lock_key = schema_lock_key(schema)

    def available(self) -> list[Migration]:
        """Return the migration files, oldest first (raises `MigrationFileError` subclasses)."""
        return load_migrations(self._directory)

    def status(self) -> list[MigrationStatus]:
        """Return every version found in the files or the database, oldest first."""
        files = {migration.version: migration for migration in self.available()}
        with self._session() as conn:
            applied = self._applied(conn, bootstrap=False)
        statuses = []
        for version in sorted(files.keys() | applied.keys()):
            migration, row = files.get(version), applied.get(version)
            statuses.append(
                MigrationStatus(
                    version=version,
                    name=migration.name if migration else row.name if row else "",
                    applied_at=row.applied_at if row else None,
                    is_applied=row is not None,
                    checksum_ok=row is None or (migration is not None and _same(migration, row)),
                    has_file=migration is not None,
                )
            )
        return statuses

    def up(self, target: int | None = None) -> list[Migration]:
        """Apply the pending migrations up to and including `target` (all if None), oldest first.

        Returns the migrations this call applied (a concurrent migrator may have done others).
        """
        migrations = self.available()
        with self._session() as conn:
            applied = self._applied(conn, bootstrap=True)
            self._check_history(migrations, applied)
            pending = [
                migration
                for migration in migrations
                if migration.version not in applied
                and (target is None or migration.version <= target)
            ]
            newest = max(applied, default=0)
            if pending and pending[0].version < newest:
                raise OutOfOrderMigrationError(
                    f"{pending[0].up_path.name} is pending but version {newest:04d} is already "
                    f"applied in schema {self._schema}; renumber it above {newest:04d}"
                )
            return [migration for migration in pending if self._run(conn, migration, "up")]

    def down(self, target: int = 0) -> list[Migration]:
        """Roll back the applied migrations newer than `target`, newest first; [] if none."""
        migrations = self.available()
        by_version = {migration.version: migration for migration in migrations}
        with self._session() as conn:
            applied = self._applied(conn, bootstrap=False)
            self._check_history(migrations, applied)
            newer = [by_version[version] for version in sorted(applied, reverse=True)]
            return [m for m in newer if m.version > target and self._run(conn, m, "down")]

    @contextlib.contextmanager
    def _session(self) -> Iterator[psycopg.Connection[Any]]:
        try:
            with psycopg.connect(
                self._conninfo, autocommit=True, connect_timeout=self._connect_timeout_s
            ) as conn:
                yield conn
        except psycopg.OperationalError as exc:
            raise MigrationDatabaseUnavailableError(
                f"PostgreSQL was unreachable while migrating schema {self._schema}: {exc}"
            ) from exc
        except psycopg.Error as exc:
            raise MigrationDatabaseError(
                f"PostgreSQL refused the migration bookkeeping of schema {self._schema}: {exc}"
            ) from exc

    def _applied(self, conn: psycopg.Connection[Any], *, bootstrap: bool) -> dict[int, _Applied]:
        if bootstrap:
            with conn.transaction():
                self._lock(conn)
                conn.execute(
                    sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self._schema))
                )
                conn.execute(
                    sql.SQL(
                        "CREATE TABLE IF NOT EXISTS {} (version integer PRIMARY KEY, "
                        "name text NOT NULL, checksum text NOT NULL, "
                        "applied_at timestamptz NOT NULL DEFAULT now())"
                    ).format(self._table)
                )
        else:
            found = conn.execute("SELECT to_regclass(%s)", [self._table.as_string(conn)])
            if (row := found.fetchone()) is None or row[0] is None:
                return {}
        query = sql.SQL("SELECT version, name, checksum, applied_at FROM {} ORDER BY version")
        rows = conn.execute(query.format(self._table)).fetchall()
        return {row[0]: _Applied(*row) for row in rows}

    def _check_history(self, migrations: list[Migration], applied: dict[int, _Applied]) -> None:
        files = {migration.version: migration for migration in migrations}
        for version, row in applied.items():
            migration = files.get(version)
            if migration is None:
                raise UnknownAppliedMigrationError(
                    f"version {version:04d} ({row.name}) is applied in schema {self._schema} but "
                    f"no {version:04d}_{row.name}.up.sql exists in {self._directory}; restore it"
                )
            if not _same(migration, row):
                raise MigrationChecksumMismatchError(
                    f"{migration.up_path.name} changed since it was applied to schema "
                    f"{self._schema} at {row.applied_at:%Y-%m-%d %H:%M:%S%z}; an applied "
                    "migration must not be edited: add a new migration instead"
                )

    def _run(
        self, conn: psycopg.Connection[Any], migration: Migration, step: Literal["up", "down"]
    ) -> bool:
        path = migration.up_path if step == "up" else migration.down_path
        body = path.read_bytes()
        with conn.transaction():
            self._lock(conn)
            is_applied = conn.execute(
                sql.SQL("SELECT 1 FROM {} WHERE version = %s").format(self._table),
                [migration.version],
            ).fetchone()
            if (is_applied is not None) == (step == "up"):
                return False  # a concurrent migrator got here first
            conn.execute(
                sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(self._schema))
            )
            try:
                conn.execute(body)
            except psycopg.Error as exc:
                raise MigrationFailedError(_failure(path, body, exc)) from exc
            if step == "up":
                conn.execute(
                    sql.SQL("INSERT INTO {} (version, name, checksum) VALUES (%s, %s, %s)").format(
                        self._table
                    ),
                    [migration.version, migration.name, hashlib.sha256(body).hexdigest()],
                )
            else:
                conn.execute(
                    sql.SQL("DELETE FROM {} WHERE version = %s").format(self._table),
                    [migration.version],
                )
        return True

    def _lock(self, conn: psycopg.Connection[Any]) -> None:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", [self._lock_key])


def _same(migration: Migration, row: _Applied) -> bool:
    return migration.checksum == row.checksum


def _failure(path: Path, body: bytes, exc: psycopg.Error) -> str:
    diag = exc.diag
    where = ""
    if diag.statement_position:
        text = body.decode("utf-8", errors="replace")
        line = text.count("\n", 0, int(diag.statement_position) - 1) + 1
        where = f" at line {line}"
    detail = f" ({diag.message_detail})" if diag.message_detail else ""
    message = f"{diag.message_primary or exc}{detail} [SQLSTATE {exc.sqlstate}]"
    return f"{path.name}{where} failed and was rolled back: {message}"
