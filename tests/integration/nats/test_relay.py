"""The relay publishes the log to JetStream in order, exactly once, and resumes from the stream."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from adapters.embedded.nats_server import EmbeddedNats
from adapters.nats.relay import LogRelay, NotificationLike, NotificationLog
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


class FreezingLog:
    """The ledger's log, read as the relay reads it; freezes the NATS server (SIGSTOP) right
    after the first page it hands out, so that page's acknowledgements never come."""

    def __init__(self, log: NotificationLog, nats_pid: int) -> None:
        self.log, self.nats_pid, self.froze = log, nats_pid, False

    def select_notifications(self, *args: Any, **kwargs: Any) -> Sequence[NotificationLike]:
        page = self.log.select_notifications(*args, **kwargs)
        if page and not self.froze:
            os.kill(self.nats_pid, signal.SIGSTOP)
            self.froze = True
        return page


def test_a_relay_whose_page_is_never_acknowledged_starts_a_new_session_and_loses_nothing(
    ledger: Trading, stream: LogStream, tmp_path: Path
) -> None:
    # Given a NATS server of this test's own, and events in the log
    server = EmbeddedNats(tmp_path / "nats")
    endpoint = server.start()
    append_orders(ledger, 20)
    last = ledger.recorder.max_notification_id() or 0
    log = FreezingLog(ledger.recorder, endpoint.pid)
    relay = LogRelay(log, stream, endpoint.url, retry_s=0.05, ack_timeout_s=0.5)

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.ensure_future(relay.run(stop))
        try:
            # When the server stops answering while the relay's first page is in flight
            deadline = time.monotonic() + 20
            while relay.stats.timeouts == 0:
                assert time.monotonic() < deadline, "the relay waited for its acks for ever"
                await asyncio.sleep(0.02)
            # Then the relay gave that session up; and once the server answers again
            os.kill(endpoint.pid, signal.SIGCONT)
            while relay.stats.position < last:
                assert time.monotonic() < deadline + 20, "the relay did not resume"
                await asyncio.sleep(0.02)
        finally:
            os.kill(endpoint.pid, signal.SIGCONT)
            stop.set()
            await asyncio.wait_for(task, 20)

    try:
        asyncio.run(scenario())
        # It published every event once, in log order
        ids = [int(m.headers["Nats-Msg-Id"]) for m in read_stream(endpoint.url, stream)]
        assert ids == [n.id for n in ledger.recorder.select_notifications(None, 10_000)]
        assert "did not acknowledge log positions" in relay.stats.errors[0]
    finally:
        server.stop()
