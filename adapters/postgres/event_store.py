"""The event log's PostgreSQL configuration: eventsourcing settings from a libpq URL."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from adapters.postgres.advisory_keys import advisory_key
from adapters.postgres.recorder import RECORDER_TOPIC

IDLE_IN_TRANSACTION_TIMEOUT_S = 120  # ends a transaction a crashed client left open


class EventStoreUnavailableError(Exception):
    """PostgreSQL could not be reached or refused the connection (retryable)."""


def eventsourcing_env(
    conninfo: str,
    *,
    schema: str,
    pool_size: int = 5,
    max_overflow: int = 10,
    connect_timeout_s: float = 10.0,
) -> Mapping[str, str]:
    """Return the eventsourcing environment for the event log in `schema` at `conninfo`."""
    params = conninfo_to_dict(conninfo)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": str(params.get("dbname") or "postgres"),
        "POSTGRES_HOST": str(params.get("host") or "localhost"),
        "POSTGRES_PORT": str(params.get("port") or 5432),
        "POSTGRES_USER": str(params.get("user") or "postgres"),
        "POSTGRES_PASSWORD": str(params.get("password") or ""),
        "POSTGRES_SCHEMA": schema,
        "CREATE_TABLE": "y",
        "PROCESS_RECORDER_TOPIC": RECORDER_TOPIC,
        "POSTGRES_POOL_SIZE": str(pool_size),
        "POSTGRES_MAX_OVERFLOW": str(max_overflow),
        "POSTGRES_CONNECT_TIMEOUT": str(int(connect_timeout_s)),
        # eventsourcing's default is 5 s; a large save (an 8-month import: 5,751 events, their
        # chain links and arrays built between the statements of one transaction) idles longer
        # than that on a loaded 2-core machine, and the server ends the connection mid-save.
        "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": str(IDLE_IN_TRANSACTION_TIMEOUT_S),
    }


def ensure_schema(conninfo: str, schema: str, *, connect_timeout_s: float = 10.0) -> None:
    """Create the schema when it does not exist yet.

    Raises:
        EventStoreUnavailableError: the server cannot be reached.
    """
    try:
        with psycopg.connect(
            conninfo, autocommit=True, connect_timeout=int(connect_timeout_s)
        ) as c:
            c.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
    except psycopg.OperationalError as error:
        raise EventStoreUnavailableError(
            f"PostgreSQL at {_where(conninfo)} is not reachable: {str(error).strip()}"
        ) from None


def _where(conninfo: str) -> str:
    params = conninfo_to_dict(conninfo)
    return f"{params.get('host', 'localhost')}:{params.get('port', 5432)}/{params.get('dbname')}"


def schema_lock_key(schema: str) -> int:
    """Return the advisory-lock key that serialises DDL on `schema` (the migrator's too)."""
    return advisory_key(f"migrations {schema}")


@contextlib.contextmanager
def schema_setup_lock(
    conninfo: str, schema: str, *, connect_timeout_s: float = 10.0
) -> Iterator[None]:
    """Hold the schema's DDL lock, so processes starting together create schema and tables in turn.

    Concurrent `CREATE ... IF NOT EXISTS` of one object fail with "tuple concurrently updated".

    Raises:
        EventStoreUnavailableError: the server cannot be reached.
    """
    try:
        connection = psycopg.connect(
            conninfo, autocommit=True, connect_timeout=int(connect_timeout_s)
        )
    except psycopg.OperationalError as error:
        raise EventStoreUnavailableError(
            f"PostgreSQL at {_where(conninfo)} is not reachable: {str(error).strip()}"
        ) from None
    with connection:
        connection.execute("SELECT pg_advisory_lock(%s)", [schema_lock_key(schema)])
        try:
            yield
        finally:
            connection.execute("SELECT pg_advisory_unlock(%s)", [schema_lock_key(schema)])
