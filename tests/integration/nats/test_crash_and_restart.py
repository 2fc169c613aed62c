"""8,000 events through relay and projectors while the relay, a projector and the NATS server
are each killed and restarted mid-stream: read models equal a rebuild, nothing lost or doubled.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.embedded.nats_server import EmbeddedNats
from adapters.nats.projector import NatsProjector
from adapters.nats.relay import LogRelay
from adapters.nats.stream import LogStream
from adapters.postgres.migrator import Migrator
from adapters.postgres.projection_writer import LogReader, ProjectionWriter
from adapters.postgres.read_model_rebuild import compare, rebuild
from adapters.postgres.read_model_store import ReadModelStore
from commands.trading import Trading
from projections.catalogue import projection_named
from tests.builders import every_event_through_the_application
from tests.integration.nats.conftest import append_orders

EVENTS = 8_000
"""Sixteen of a projector's 500-event batches: each kill lands mid-stream."""
NAMES = ("timeline", "orders", "positions")


@pytest.fixture
def own_nats(tmp_path: Path) -> Iterator[EmbeddedNats]:
    """A NATS server of this test's own, so it can be stopped and started again."""
    server = EmbeddedNats(tmp_path / "nats")
    server.start()
    yield server
    server.stop()


def test_killing_relay_projector_and_nats_mid_stream_loses_and_doubles_nothing(
    ledger: Trading,
    pg_schema,
    own_nats: EmbeddedNats,
    stream: LogStream,  # type: ignore[no-untyped-def]
) -> None:
    Migrator(pg_schema.conninfo, pg_schema.schema).up()
    store = ReadModelStore(pg_schema.conninfo, pg_schema.schema)
    every_event_through_the_application(ledger)
    append_orders(ledger, EVENTS // 2, batch=500)
    target = ledger.recorder.max_notification_id() or 0
    assert target >= EVENTS
    url = own_nats.start().url  # reuses the running server: its URL
    log = LogReader(ledger.recorder)
    killed_writers: list[ProjectionWriter] = []
    writers = {
        name: ProjectionWriter(store, projection_named(name), log, ledger.mapper.to_domain_event)
        for name in NAMES
    }
    kills: list[str] = []

    async def scenario() -> None:
        stop = asyncio.Event()
        relay = LogRelay(ledger.recorder, stream, url, retry_s=0.1)
        projectors = {n: NatsProjector(w, stream, url, retry_s=0.1) for n, w in writers.items()}
        relay_task = asyncio.ensure_future(relay.run(stop))
        tasks = {n: asyncio.ensure_future(p.run(stop)) for n, p in projectors.items()}

        async def until(condition, what: str) -> None:  # type: ignore[no-untyped-def]
            deadline = time.monotonic() + 40
            while not condition():
                assert time.monotonic() < deadline, (
                    f"timed out waiting for {what}: relay {relay.stats}, "
                    + ", ".join(f"{n} {p.stats}" for n, p in projectors.items())
                )
                for task in (relay_task, *tasks.values()):
                    if task.done() and not task.cancelled():
                        task.result()
                await asyncio.sleep(0.005)

        # The relay is killed a third of the way through, and started again
        await until(lambda: relay.stats.position >= target // 3, "a third relayed")
        relay_task.cancel()
        kills.append(f"relay at {relay.stats.position}")
        relay = LogRelay(ledger.recorder, stream, url, retry_s=0.1)
        relay_task = asyncio.ensure_future(relay.run(stop))
        # The orders projector is killed mid-batch, and started again
        orders = projectors["orders"]
        await until(lambda: orders.stats.position >= target // 2, "half projected")
        tasks["orders"].cancel()
        killed_writers.append(writers["orders"])
        kills.append(f"orders projector at {orders.stats.position}")
        assert orders.stats.position < target, kills  # some of the log still to project
        # (a killed process's last transaction may still commit: a new writer, a new connection)
        writers["orders"] = ProjectionWriter(
            store, projection_named("orders"), log, ledger.mapper.to_domain_event
        )
        projectors["orders"] = NatsProjector(writers["orders"], stream, url, retry_s=0.1)
        tasks["orders"] = asyncio.ensure_future(projectors["orders"].run(stop))
        # The NATS server is stopped under load, and started again on its stored stream
        await until(lambda: relay.stats.position >= 2 * target // 3, "two thirds relayed")
        await asyncio.to_thread(own_nats.stop)
        kills.append(f"nats at relay {relay.stats.position}")
        await asyncio.sleep(0.5)
        await asyncio.to_thread(own_nats.start)
        await until(
            lambda: min(p.stats.position for p in projectors.values()) >= target, "all projected"
        )
        stop.set()
        await asyncio.gather(relay_task, *tasks.values(), return_exceptions=False)

    try:
        asyncio.run(scenario())
    finally:
        for writer in [*writers.values(), *killed_writers]:
            writer.close()

    assert len(kills) == 3, kills
    for name in NAMES:
        projection = projection_named(name)
        rebuild(store, projection, LogReader(ledger.recorder), ledger.mapper.to_domain_event)
        for table in compare(store, projection):
            assert table.equal, (table, kills)
    with store.connect() as connection:
        (count,) = connection.execute("SELECT count(*) FROM rm_event_timeline").fetchone()
        (first, last) = connection.execute(
            "SELECT min(position), max(position) FROM rm_event_timeline"
        ).fetchone()
    logged = [item.position for item in LogReader(ledger.recorder).items(0)]
    assert (count, first, last) == (len(logged), logged[0], logged[-1])
