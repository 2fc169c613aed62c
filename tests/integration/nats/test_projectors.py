"""Relay and projectors on real PostgreSQL and NATS: read models equal a rebuild from the log."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import nats
import pytest

from adapters.nats.projector import NatsProjector
from adapters.nats.relay import LogRelay
from adapters.nats.stream import LogStream
from adapters.postgres.migrator import Migrator
from adapters.postgres.projection_writer import LogReader, ProjectionWriter
from adapters.postgres.read_model_rebuild import (
    compare,
    compare_at_live_position,
    rebuild,
    verify,
)
from adapters.postgres.read_model_store import ReadModelStore
from commands.trading import Trading
from projections.catalogue import PROJECTIONS, projection_named
from tests.builders import every_event_through_the_application
from tests.integration.conftest import NatsTarget
from tests.integration.nats.conftest import append_orders


@pytest.fixture
def store(ledger: Trading, pg_schema) -> ReadModelStore:  # type: ignore[no-untyped-def]
    Migrator(pg_schema.conninfo, pg_schema.schema).up()
    return ReadModelStore(pg_schema.conninfo, pg_schema.schema)


@pytest.fixture
def writers(ledger: Trading, store: ReadModelStore) -> Iterator[dict[str, ProjectionWriter]]:
    made = {
        name: ProjectionWriter(
            store, projection_named(name), LogReader(ledger.recorder), ledger.mapper.to_domain_event
        )
        for name in PROJECTIONS
    }
    yield made
    for writer in made.values():
        writer.close()


def run_pipeline(
    relay: LogRelay,
    projectors: list[NatsProjector],
    target: int,
    timeout_s: float = 120,
    done: Callable[[], bool] | None = None,
) -> None:
    """Run until every projector is at `target` (and `done()` says so, when given)."""

    def finished() -> bool:
        at_target = min(p.stats.position for p in projectors) >= target
        return at_target and (done is None or done())

    async def scenario() -> None:
        stop = asyncio.Event()
        tasks = [asyncio.ensure_future(relay.run(stop))]
        tasks += [asyncio.ensure_future(p.run(stop)) for p in projectors]
        deadline = time.monotonic() + timeout_s
        while not finished():
            for task in tasks:
                if task.done():
                    task.result()  # a projector that stopped raises here
            assert time.monotonic() < deadline, [p.stats for p in projectors]
            await asyncio.sleep(0.02)
        stop.set()
        await asyncio.gather(*tasks)

    asyncio.run(scenario())


def assert_equal_to_a_rebuild(ledger: Trading, store: ReadModelStore) -> None:
    for name in PROJECTIONS:
        projection = projection_named(name)
        rebuild(store, projection, LogReader(ledger.recorder), ledger.mapper.to_domain_event)
        for table in compare(store, projection):
            assert table.equal, table
            assert table.live_rows == table.rebuilt_rows


def rows(store: ReadModelStore, query: str, *params: Any) -> list[tuple[Any, ...]]:
    with store.connect() as connection:
        return connection.execute(query, params).fetchall()


def test_every_read_model_follows_the_log_and_equals_a_rebuild_from_it(
    ledger: Trading,
    store: ReadModelStore,
    writers: dict[str, ProjectionWriter],
    nats_endpoint: NatsTarget,
    stream: LogStream,
) -> None:
    every_event_through_the_application(ledger)
    append_orders(ledger, 300)
    target = ledger.recorder.max_notification_id() or 0
    relay = LogRelay(ledger.recorder, stream, nats_endpoint.url)
    projectors = [NatsProjector(w, stream, nats_endpoint.url) for w in writers.values()]
    run_pipeline(relay, projectors, target)

    assert_equal_to_a_rebuild(ledger, store)
    assert rows(store, "SELECT count(*) FROM rm_event_timeline") == [(target,)]
    statuses = dict(rows(store, "SELECT client_order_id, status FROM rm_orders"))
    assert statuses["bid-1"] == "FILLED" and statuses["bid-2"] == "CANCELLED"
    assert statuses["bid-3"] == "FAILED" and statuses["o-299"] == "NEW"
    (bid,) = rows(store, "SELECT filled_btc, fills FROM rm_orders WHERE client_order_id='bid-1'")
    assert bid == (Decimal("0.01"), 2)
    history = rows(
        store,
        "SELECT h.status FROM rm_order_status_history h JOIN rm_orders o USING (order_id) "
        "WHERE o.client_order_id = 'bid-1' ORDER BY h.position",
    )
    assert [h[0] for h in history] == ["NEW", "OPEN", "PARTIAL", "FILLED"]
    (risk,) = rows(store, "SELECT trading_state, max_order_krw FROM rm_risk_state")
    assert risk[0] == "ACTIVE" and str(risk[1]) == "5000000"
    assert rows(store, "SELECT count(*) FROM rm_candles_1m") == [(1,)]
    assert rows(store, "SELECT high::text FROM rm_candles_1h") == [("1001",)]  # corrected
    assert rows(store, "SELECT count(*) FROM rm_signals") == [(1,)]


def test_a_second_run_applies_nothing_twice(
    ledger: Trading,
    store: ReadModelStore,
    writers: dict[str, ProjectionWriter],
    nats_endpoint: NatsTarget,
    stream: LogStream,
) -> None:
    append_orders(ledger, 100)
    target = ledger.recorder.max_notification_id() or 0
    relay = LogRelay(ledger.recorder, stream, nats_endpoint.url)
    orders = NatsProjector(writers["orders"], stream, nats_endpoint.url)
    run_pipeline(relay, [orders], target)
    before = rows(store, "SELECT * FROM rm_orders ORDER BY order_id")

    # When its consumer is deleted, so that a new one delivers the whole stream again
    async def delete_consumer() -> None:
        client = await nats.connect(nats_endpoint.url)
        await client.jetstream().delete_consumer(stream.name, orders.durable)
        await client.close()

    asyncio.run(delete_consumer())
    again = NatsProjector(writers["orders"], stream, nats_endpoint.url)
    # (it starts at its tracked position at once: wait for the redelivery itself, which a
    # loaded machine used to cut short by stopping the run before the first batch arrived)
    run_pipeline(
        LogRelay(ledger.recorder, stream, nats_endpoint.url),
        [again],
        target,
        done=lambda: again.stats.applied + again.stats.skipped >= target,
    )

    # Then every redelivered event was skipped and the read model is unchanged
    assert again.stats.applied == 0 and again.stats.skipped == target
    assert rows(store, "SELECT * FROM rm_orders ORDER BY order_id") == before


def test_an_idle_projector_whose_fetches_time_out_loses_no_connection(
    writers: dict[str, ProjectionWriter], stream: LogStream, nats_endpoint: NatsTarget
) -> None:
    # Given a projector on a stream with nothing to deliver, fetching with a short wait (nats-py
    # then raises a bare TimeoutError for about one fetch in ten, the race a loaded machine hits
    # with the 1 s wait of `ledger run`)
    projector = NatsProjector(writers["timeline"], stream, nats_endpoint.url, fetch_timeout_s=0.05)

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.ensure_future(projector.run(stop))
        # When it idles for about forty fetch windows
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(task), 2.0)
        stop.set()
        await task

    asyncio.run(scenario())

    # Then no session ended: an empty fetch is not a lost connection
    assert projector.stats.restarts == 0, projector.stats.errors
    assert projector.stats.is_up


def test_a_verify_while_the_projector_carries_on_compares_both_at_one_position(
    ledger: Trading, store: ReadModelStore, writers: dict[str, ProjectionWriter]
) -> None:
    every_event_through_the_application(ledger)
    projection = projection_named("timeline")
    log, decode = LogReader(ledger.recorder), ledger.mapper.to_domain_event
    live = writers["timeline"]
    started_at = live.catch_up().position
    # Given a rebuild up to the live position, after which the projector applies more events
    rebuild(store, projection, log, decode, upto=started_at)
    append_orders(ledger, 20)
    head = live.catch_up().position
    assert head > started_at
    assert not all(table.equal for table in compare(store, projection))  # the race it had

    # When the rebuild is compared at the live position
    position, tables = compare_at_live_position(store, projection, log, decode)

    # Then the shadow was caught up to it first, and the two agree
    assert position == head
    assert [table.table for table in tables] == list(projection.tables)
    assert all(table.equal and table.live_rows == table.rebuilt_rows for table in tables)


def test_verify_rebuilds_up_to_the_live_projector_and_leaves_it_alone(
    ledger: Trading, store: ReadModelStore, writers: dict[str, ProjectionWriter]
) -> None:
    append_orders(ledger, 30)
    live = writers["orders"]
    applied = live.catch_up(upto=25).position
    append_orders(ledger, 5, prefix="later")
    projection = projection_named("orders")
    before = rows(store, "SELECT * FROM rm_orders ORDER BY order_id")

    position, tables = verify(
        store, projection, LogReader(ledger.recorder), ledger.mapper.to_domain_event
    )

    assert position == applied < (ledger.recorder.max_notification_id() or 0)
    assert all(table.equal for table in tables)
    assert rows(store, "SELECT * FROM rm_orders ORDER BY order_id") == before
    assert live.position() == applied


def test_a_projector_lingers_after_a_short_batch_so_events_logged_meanwhile_come_as_one(
    ledger: Trading,
    writers: dict[str, ProjectionWriter],
    nats_endpoint: NatsTarget,
    stream: LogStream,
) -> None:
    append_orders(ledger, 1)  # an allocation and one order: a short first batch
    relay = LogRelay(ledger.recorder, stream, nats_endpoint.url)
    projector = NatsProjector(writers["orders"], stream, nats_endpoint.url, linger_s=2.0)

    async def scenario() -> None:
        stop = asyncio.Event()
        client = await nats.connect(nats_endpoint.url)
        js = client.jetstream()
        await stream.ensure(js)
        await relay.publish_pending(js)
        task = asyncio.ensure_future(projector.run(stop))
        first = ledger.recorder.max_notification_id() or 0
        deadline = time.monotonic() + 30
        while projector.stats.position < first:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
        # While it lingers after that batch, 44 more events are logged and published in four
        # goes, a pause between each (a projector that did not linger fetches in between)
        for go in range(4):
            append_orders(ledger, 5, prefix=f"later-{go}")
            await relay.publish_pending(js)
            await asyncio.sleep(0.05)
        head = ledger.recorder.max_notification_id() or 0
        while projector.stats.position < head:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
        stop.set()
        await asyncio.wait_for(task, 10)
        await client.close()

    asyncio.run(scenario())
    assert projector.stats.batches == 2  # not one per event, nor per publication
    assert projector.stats.applied == ledger.recorder.max_notification_id()


@pytest.mark.parametrize("linger_s", [-0.1, 2.5])
def test_a_projector_linger_outside_0_to_2_s_is_refused_naming_it(
    writers: dict[str, ProjectionWriter],
    nats_endpoint: NatsTarget,
    stream: LogStream,
    linger_s: float,
) -> None:
    with pytest.raises(ValueError, match=f"linger {linger_s} s must be within 0 to 2.0 s"):
        NatsProjector(writers["orders"], stream, nats_endpoint.url, linger_s=linger_s)
