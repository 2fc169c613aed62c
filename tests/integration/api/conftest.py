"""The HTTP API over a real PostgreSQL: the write side, the read models and their queries."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from adapters.postgres.migrator import Migrator
from adapters.postgres.projection_writer import LogReader, ProjectionWriter
from adapters.postgres.read_model_queries import PostgresReadModelQueries
from adapters.postgres.read_model_store import ReadModelStore
from api.bootstrap import System
from api.cursor_key import cursor_key
from api.http.app import create_app
from api.settings import load_settings
from commands.trading import Trading
from projections.catalogue import PROJECTIONS, projection_named

TOKEN = "test-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
LIMIT_BID = {
    "strategy_id": "alpha",
    "side": "bid",
    "order_type": "limit",
    "price_krw": "50000000",
    "volume_btc": "0.001",
}
"""A limit order to buy for strategy `alpha`, as the API takes it."""


@dataclass
class Api:
    """A client of the API, and a way to bring the read models up to the log."""

    client: TestClient
    system: System
    store: ReadModelStore

    def project(self) -> None:
        """Apply the whole log to every read model (what the projectors do, without NATS)."""
        trading = self.system.trading
        for name in PROJECTIONS:
            writer = ProjectionWriter(
                self.store,
                projection_named(name),
                LogReader(trading.recorder),
                trading.mapper.to_domain_event,
            )
            try:
                writer.catch_up()
            finally:
                writer.close()

    def post(self, path: str, body: dict, **headers: str) -> dict:  # type: ignore[type-arg]
        answer = self.client.post(path, json=body, headers={**AUTH, **headers})
        assert answer.status_code in (201, 202), answer.text
        return dict(answer.json())


@pytest.fixture
def api(pg_schema) -> Iterator[Api]:  # type: ignore[no-untyped-def]
    trading = Trading(pg_schema.eventsourcing_env())
    Migrator(pg_schema.conninfo, pg_schema.schema).up()
    settings = load_settings(overrides={"api": {"token": TOKEN}})
    queries = PostgresReadModelQueries(
        pg_schema.conninfo, pg_schema.schema, cursor_key=cursor_key(settings)
    )
    system = System(settings=settings, trading=trading, queries=queries)
    with TestClient(create_app(system)) as client:
        yield Api(client, system, ReadModelStore(pg_schema.conninfo, pg_schema.schema))
    system.close()
