"""The relay publishes the log to JetStream in order, exactly once, and resumes from the stream."""

from __future__ import annotations

import asyncio
import time

from adapters.nats.relay import LogRelay
from adapters.nats.stream import LogStream
from adapters.postgres.log_listener import LogListener
from commands.trading import Trading
from tests.integration.conftest import NatsTarget
from tests.integration.nats.conftest import append_orders, read_stream


def relay_until_caught_up(relay: LogRelay, target: int, timeout_s: float = 60) -> None:
    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.ensure_future(relay.run(stop))
        deadline = time.monotonic() + timeout_s
        while relay.stats.position < target and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        stop.set()
        await asyncio.wait_for(task, 10)

    asyncio.run(scenario())


def test_every_event_is_published_once_in_log_order_with_its_position_as_id(
    ledger: Trading, nats_endpoint: NatsTarget, stream: LogStream
) -> None:
    append_orders(ledger, 600)
    notifications = ledger.recorder.select_notifications(start=None, limit=10_000)
    relay = LogRelay(ledger.recorder, stream, nats_endpoint.url)
    relay_until_caught_up(relay, notifications[-1].id)

    messages = read_stream(nats_endpoint.url, stream)
    assert [int(m.headers["Nats-Msg-Id"]) for m in messages] == [n.id for n in notifications]
    assert [m.subject for m in messages] == [f"{stream.env}.{n.topic}" for n in notifications]
    assert [m.data for m in messages] == [bytes(n.state) for n in notifications]
    previous = [0] + [n.id for n in notifications[:-1]]
    assert [int(m.headers["Ledger-Prev-Id"]) for m in messages] == previous
    assert relay.stats.published == len(notifications) and relay.stats.duplicates == 0


def test_a_restarted_relay_resumes_from_the_stream_and_publishes_only_what_is_new(
    ledger: Trading, nats_endpoint: NatsTarget, stream: LogStream
) -> None:
    append_orders(ledger, 100, prefix="first")
    relay_until_caught_up(LogRelay(ledger.recorder, stream, nats_endpoint.url), 1)
    before = len(read_stream(nats_endpoint.url, stream))
    append_orders(ledger, 50, prefix="second")
    last = ledger.recorder.max_notification_id() or 0

    again = LogRelay(ledger.recorder, stream, nats_endpoint.url)
    relay_until_caught_up(again, last)

    assert again.stats.published == 101  # 50 new orders' 2 events + 1 allocation, nothing older
    assert len(read_stream(nats_endpoint.url, stream)) == before + 101


def test_two_racing_relays_neither_duplicate_nor_reorder(
    ledger: Trading, nats_endpoint: NatsTarget, stream: LogStream
) -> None:
    append_orders(ledger, 1000)
    last = ledger.recorder.max_notification_id() or 0
    first = LogRelay(ledger.recorder, stream, nats_endpoint.url, retry_s=0.01)
    second = LogRelay(ledger.recorder, stream, nats_endpoint.url, retry_s=0.01)

    async def race() -> None:
        stop = asyncio.Event()
        tasks = [asyncio.ensure_future(r.run(stop)) for r in (first, second)]
        deadline = time.monotonic() + 60
        while max(first.stats.position, second.stats.position) < last:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)
        stop.set()
        await asyncio.gather(*tasks)

    asyncio.run(race())
    ids = [int(m.headers["Nats-Msg-Id"]) for m in read_stream(nats_endpoint.url, stream)]
    logged = [n.id for n in ledger.recorder.select_notifications(start=None, limit=10_000)]
    assert ids == logged  # each once, in log order


def test_a_caught_up_relay_wakes_on_the_logs_notify(
    ledger: Trading,
    nats_endpoint: NatsTarget,
    stream: LogStream,
    pg_schema,  # type: ignore[no-untyped-def]
) -> None:
    append_orders(ledger, 1)
    listener = LogListener(pg_schema.conninfo, ledger.recorder.channel_name, poll_s=30)
    relay = LogRelay(ledger.recorder, stream, nats_endpoint.url, listener=listener)

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.ensure_future(relay.run(stop))
        while relay.stats.position == 0:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.3)  # caught up, waiting on LISTEN (the poll is 30 s away)
        append_orders(ledger, 1, prefix="late")
        started = time.monotonic()
        target = ledger.recorder.max_notification_id() or 0
        while relay.stats.position < target:
            assert time.monotonic() - started < 10, "the NOTIFY did not wake the relay"
            await asyncio.sleep(0.005)
        stop.set()
        await asyncio.wait_for(task, 5)  # stopping abandons the LISTEN at once

    asyncio.run(scenario())  # fails inside if the NOTIFY did not wake the relay within 10 s


def test_a_relay_that_another_relay_overtook_between_wakes_neither_duplicates_nor_reorders(
    ledger: Trading, nats_endpoint: NatsTarget, stream: LogStream
) -> None:
    append_orders(ledger, 10)
    first = LogRelay(ledger.recorder, stream, nats_endpoint.url, retry_s=0.01)

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.ensure_future(first.run(stop))

        async def until(relay: LogRelay) -> None:
            target = ledger.recorder.max_notification_id() or 0
            deadline = time.monotonic() + 30
            while relay.stats.position < target:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.02)

        await until(first)
        # Another relay publishes what is logged next, while the first one sleeps
        append_orders(ledger, 10, prefix="other")
        other = LogRelay(ledger.recorder, stream, nats_endpoint.url, retry_s=0.01)
        other_stop = asyncio.Event()
        other_task = asyncio.ensure_future(other.run(other_stop))
        await until(other)
        other_stop.set()
        await asyncio.wait_for(other_task, 10)
        # Then more is logged: the first relay's idea of the stream's end is stale
        append_orders(ledger, 10, prefix="later")
        await until(first)
        stop.set()
        await asyncio.wait_for(task, 10)

    asyncio.run(scenario())
    ids = [int(m.headers["Nats-Msg-Id"]) for m in read_stream(nats_endpoint.url, stream)]
    logged = [n.id for n in ledger.recorder.select_notifications(start=None, limit=10_000)]
    assert ids == logged  # each once, in log order
