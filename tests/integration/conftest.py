"""Servers for the integration tier: one PostgreSQL per session, a fresh schema per test, NATS.

Set LEDGER_TEST_DATABASE_URL (a libpq URL) or LEDGER_TEST_NATS_URL to use servers you run
yourself; otherwise the embedded servers start in pytest's temporary directory.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from adapters.embedded.nats_server import EmbeddedNats
from adapters.embedded.postgres_server import EmbeddedPostgres
from adapters.postgres.recorder import RECORDER_TOPIC


@dataclass(frozen=True)
class PgServer:
    """The session's PostgreSQL: embedded, or the one LEDGER_TEST_DATABASE_URL names."""

    host: str
    port: int
    user: str
    dbname: str
    password: str = ""

    @property
    def conninfo(self) -> str:
        return make_conninfo(
            host=self.host,
            port=self.port,
            user=self.user,
            dbname=self.dbname,
            password=self.password or None,
        )


@dataclass(frozen=True)
class PgTarget:
    """One test's schema on the session's server."""

    conninfo: str
    host: str
    port: int
    user: str
    dbname: str
    schema: str
    password: str = ""

    def eventsourcing_env(self) -> dict[str, str]:
        """Return the eventsourcing settings that store into this schema (guide §1.3), with
        the ledger's recorder (the one `eventsourcing_env` configures: it keeps the audit
        chain)."""
        return {
            "PROCESS_RECORDER_TOPIC": RECORDER_TOPIC,
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": self.dbname,
            "POSTGRES_HOST": self.host,
            "POSTGRES_PORT": str(self.port),
            "POSTGRES_USER": self.user,
            "POSTGRES_PASSWORD": self.password,
            "POSTGRES_SCHEMA": self.schema,
            "CREATE_TABLE": "y",
        }


@dataclass(frozen=True)
class NatsTarget:
    """A NATS server with JetStream: embedded, or the one LEDGER_TEST_NATS_URL names."""

    url: str
    host: str
    port: int


_HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Everything in this tier needs real servers: mark it so `-m "not integration"` skips it.
    for item in items:
        if _HERE in item.path.parents:
            item.add_marker(pytest.mark.integration)


NON_DURABLE = {"fsync": "off"}
"""The tests' PostgreSQL servers hold throwaway data: they skip the flush to disk that only an
operating-system crash or a power loss needs (PostgreSQL's "Non-Durable Settings")."""


@pytest.fixture(scope="session")
def postgres_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PgServer]:
    external = os.environ.get("LEDGER_TEST_DATABASE_URL")
    if external:
        params = conninfo_to_dict(external)
        yield PgServer(
            host=str(params.get("host", "127.0.0.1")),
            port=int(str(params.get("port", 5432))),
            user=str(params.get("user", "postgres")),
            dbname=str(params.get("dbname", "postgres")),
            password=str(params.get("password", "")),
        )
        return
    # Throwaway data: no flush to disk (a crash of the server loses nothing either way).
    server = EmbeddedPostgres(
        tmp_path_factory.mktemp("postgres") / "data", server_options=NON_DURABLE
    )
    endpoint = server.start()
    try:
        yield PgServer(endpoint.host, endpoint.port, endpoint.user, endpoint.dbname)
    finally:
        server.stop()


@pytest.fixture
def pg_schema(postgres_endpoint: PgServer) -> Iterator[PgTarget]:
    server = postgres_endpoint
    schema = f"test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server.conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    try:
        yield PgTarget(
            conninfo=server.conninfo,
            host=server.host,
            port=server.port,
            user=server.user,
            dbname=server.dbname,
            schema=schema,
            password=server.password,
        )
    finally:
        with psycopg.connect(server.conninfo, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture(scope="session")
def nats_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsTarget]:
    external = os.environ.get("LEDGER_TEST_NATS_URL")
    if external:
        parts = urlsplit(external)
        yield NatsTarget(external, parts.hostname or "127.0.0.1", parts.port or 4222)
        return
    server = EmbeddedNats(tmp_path_factory.mktemp("nats") / "data")
    endpoint = server.start()
    try:
        yield NatsTarget(endpoint.url, endpoint.host, endpoint.port)
    finally:
        server.stop()
