"""A read model's writer across a PostgreSQL restart: it reconnects, parks nothing, loses none."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from adapters.embedded.services import EmbeddedServices
from adapters.postgres.event_store import ensure_schema, eventsourcing_env
from adapters.postgres.migrator import Migrator
from adapters.postgres.projection_writer import LogReader, ProjectionWriter
from adapters.postgres.read_model_store import ReadModelStore
from commands.trading import Trading
from projections.catalogue import projection_named
from tests.integration.nats.conftest import append_orders

SCHEMA = "outage"


@pytest.fixture
def own_postgres(tmp_path: Path) -> Iterator[EmbeddedServices]:
    """A PostgreSQL of this test's own, so it can be restarted."""
    services = EmbeddedServices(tmp_path / "ledger", stop_timeout_s=2.0)
    services.up(postgres=True, nats=False)
    yield services
    services.down()


def test_a_writer_whose_server_restarted_reconnects_and_applies_the_rest_once(
    own_postgres: EmbeddedServices,
) -> None:
    # Given a log of orders half applied to the orders read model
    endpoint = own_postgres.postgres.endpoint()
    assert endpoint is not None
    url = endpoint.socket_url()
    ensure_schema(url, SCHEMA)
    ledger = Trading(eventsourcing_env(url, schema=SCHEMA, connect_timeout_s=1.0))
    Migrator(url, SCHEMA).up()
    store = ReadModelStore(url, SCHEMA)
    writer = ProjectionWriter(
        store,
        projection_named("orders"),
        LogReader(ledger.recorder),
        ledger.mapper.to_domain_event,
    )
    try:
        append_orders(ledger, 100, batch=50)
        half = writer.catch_up().position
        append_orders(ledger, 100, batch=50, prefix="later")
        head = ledger.recorder.max_notification_id() or 0
        items = list(LogReader(ledger.recorder).items(half))

        # When the server restarts under the writer's open connection
        own_postgres.restart("postgres", down_s=0.2)

        # Then the first batch on the dropped connection fails as an outage, and nothing is
        # parked for it; the next opens a new connection and applies the rest, once
        with pytest.raises(psycopg.OperationalError):
            writer.apply_batch(items)
        result = writer.apply_batch(items)
        assert (result.applied, result.position) == (len(items), head)
        assert writer.apply_batch(items).skipped == len(items)
        with psycopg.connect(url) as connection:
            for table, rows in (("projection_parked", 0), ("rm_orders", 200)):
                query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(SCHEMA, table))
                assert connection.execute(query).fetchone() == (rows,), table
    finally:
        writer.close()
        ledger.close()
