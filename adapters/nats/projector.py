"""A projector: one durable JetStream consumer feeding one projection's read model.

Guide §5.3. It fetches batches in stream order from its own durable pull consumer (one fetcher),
applies each batch in one PostgreSQL transaction through `ProjectionWriter` (tracking in the
same transaction, redeliveries skipped, gaps read from the log), and only then acknowledges the
batch. A crash between commit and ack only causes a redelivery, which changes nothing. When idle
while the stream holds later events (delivered to a consumer that died unacknowledged), it reads
them from the log itself. An event that cannot be applied stops the projector with the event
named (it is parked).

After a batch smaller than it asked for, a projector lingers (`linger_s`, 50 ms by default)
before it fetches again, so that events logged one by one reach it in batches: a transaction,
its tracking statements and an acknowledgement cost about as much for one event as for fifty.
The read model then trails the log by up to that much more.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from uuid import UUID

import nats
import nats.errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from adapters.nats.sessions import SessionRecord, run_sessions, session_connection
from adapters.nats.stream import MSG_ID, ORIGINATOR, PREV_ID, TOPIC, VERSION, LogStream
from adapters.postgres.projection_writer import LogItem, ProjectionWriter

DEFAULT_LINGER_S = 0.05
"""How long a projector waits for more events after a short batch (measured: a day's run on
the sandbox spent half the projectors' CPU time without it, docs/benchmarks.md)."""
MAX_LINGER_S = 2.0


@dataclass
class ProjectorStats(SessionRecord):
    """What the projector did."""

    applied: int = 0
    skipped: int = 0
    gap_filled: int = 0
    batches: int = 0
    position: int = 0


class NatsProjector:
    """Consumes `stream` with the durable consumer of `writer`'s projection."""

    def __init__(
        self,
        writer: ProjectionWriter,
        stream: LogStream,
        nats_url: str,
        *,
        batch: int = 500,
        fetch_timeout_s: float = 1.0,
        retry_s: float = 0.5,
        linger_s: float = DEFAULT_LINGER_S,
    ) -> None:
        if not 0 <= linger_s <= MAX_LINGER_S:
            raise ValueError(f"linger {linger_s!r} s must be within 0 to {MAX_LINGER_S} s")
        self.writer, self.stream, self.nats_url = writer, stream, nats_url
        self.batch, self.fetch_timeout_s, self.retry_s = batch, fetch_timeout_s, retry_s
        self.linger_s = linger_s
        self.durable = f"{writer.name}-v{writer.projection.version}"
        self.stats = ProjectorStats()

    async def run(self, stop: asyncio.Event) -> ProjectorStats:
        """Project until `stop` is set; reconnect after NATS errors.

        Raises:
            ProjectionStoppedError: an event could not be applied (it is parked).
        """
        self.stats.position = await asyncio.to_thread(self.writer.position)
        await run_sessions(self._session, stop, retry_s=self.retry_s, on_error=self.stats.failed)
        return self.stats

    async def _session(self, stop: asyncio.Event) -> None:
        async with session_connection(self.nats_url, f"ledger-projector-{self.durable}") as client:
            js = client.jetstream(timeout=5)
            await self.stream.ensure(js)
            await self._ensure_consumer(js)
            subscription = await js.pull_subscribe_bind(self.durable, stream=self.stream.name)
            while not stop.is_set():
                try:
                    messages = await subscription.fetch(self.batch, timeout=self.fetch_timeout_s)
                except TimeoutError:
                    # Nothing arrived within the wait. nats-py raises its own TimeoutError or,
                    # when the server's "no messages" reply lands at the deadline, a bare
                    # asyncio one: both mean an empty batch while the connection is up.
                    if not client.is_connected:
                        raise nats.errors.ConnectionClosedError from None
                    messages = []
                if messages:
                    await self._handle(messages)
                    if len(messages) < self.batch:
                        await _linger(stop, self.linger_s)
                else:
                    await self._catch_up_from_log(js)
                self.stats.worked()

    async def _handle(self, messages: list[Msg]) -> None:
        items = [_item(message) for message in messages]
        result = await asyncio.to_thread(self.writer.apply_batch, items)
        await messages[-1].ack_sync()  # AckPolicy.ALL: acknowledges the whole batch
        self.stats.applied += result.applied
        self.stats.skipped += result.skipped
        self.stats.gap_filled += result.gap_filled
        self.stats.batches += 1
        self.stats.position = max(self.stats.position, result.position)

    async def _catch_up_from_log(self, js: JetStreamContext) -> None:
        # Idle, yet the stream holds later events: they went to a consumer that died before
        # acknowledging them (redelivery waits for ack_wait). Read them from the log itself.
        published = await self.stream.last_position(js)
        if published <= self.stats.position:
            return
        result = await asyncio.to_thread(self.writer.catch_up, published, batch=self.batch)
        self.stats.applied += result.applied
        self.stats.gap_filled += result.applied  # these came from the log, not the stream
        self.stats.position = max(self.stats.position, result.position)

    async def _ensure_consumer(self, js: JetStreamContext) -> None:
        try:
            await js.consumer_info(self.stream.name, self.durable)
        except NotFoundError:
            await js.add_consumer(
                self.stream.name,
                ConsumerConfig(
                    durable_name=self.durable,
                    ack_policy=AckPolicy.ALL,
                    deliver_policy=DeliverPolicy.ALL,
                    ack_wait=30,
                    max_ack_pending=20_000,
                    filter_subject=self.stream.subjects,
                ),
            )


def _item(message: Msg) -> LogItem:
    headers = message.headers or {}
    return LogItem(
        position=int(headers[MSG_ID]),
        previous=int(headers[PREV_ID]),
        topic=headers[TOPIC],
        originator_id=UUID(headers[ORIGINATOR]),
        originator_version=int(headers[VERSION]),
        state=message.data,
    )


async def _linger(stop: asyncio.Event, seconds: float) -> None:
    if seconds <= 0:
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
