"""The relay: the one publisher of the event log to JetStream, in order, exactly once.

Guide §5.2. The stream is its own checkpoint: at start (and after any error) the relay reads the
position of the stream's newest message and publishes every later notification, in pages,
pipelined. Each message's id is its log position (JetStream drops a re-published one within the
de-duplication window) and it must follow the previous id (`Nats-Expected-Last-Msg-Id`), so a
second relay or a late retry can neither duplicate nor reorder. When caught up it waits for the
log's NOTIFY, polling as well.

A page's acknowledgements are awaited for at most `ack_timeout_s`: a message lost with its
connection (a NATS restart, a server that stopped answering) is never acknowledged, and an
unbounded wait left the relay "up" and idle for good. A late page ends the session; the next
one resumes from the stream, where the de-duplication drops what did arrive.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from nats.js import JetStreamContext

from adapters.nats.sessions import SessionRecord, run_sessions, session_connection
from adapters.nats.stream import (
    EXPECTED_LAST_MSG_ID,
    MSG_ID,
    ORIGINATOR,
    PREV_ID,
    TOPIC,
    VERSION,
    LogStream,
)
from adapters.postgres.log_listener import LogListener

PAGE = 500
ACK_TIMEOUT_S = 5.0
"""How long a page's acknowledgements may take (a page of 500 is acknowledged in ~10 ms)."""


class NotificationLike(Protocol):
    """What the relay needs of a log notification (eventsourcing's `Notification`)."""

    @property
    def id(self) -> int: ...
    @property
    def originator_id(self) -> object: ...
    @property
    def originator_version(self) -> int: ...
    @property
    def topic(self) -> str: ...
    @property
    def state(self) -> bytes: ...


class NotificationLog(Protocol):
    """The log the relay reads (the eventsourcing recorder)."""

    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> Sequence[NotificationLike]: ...


@dataclass
class RelayStats(SessionRecord):
    """What the relay did: messages published, re-publications JetStream dropped, restarts."""

    published: int = 0
    duplicates: int = 0
    position: int = 0


class LogRelay:
    """Publishes `log` to `stream` on the NATS server at `nats_url`."""

    def __init__(
        self,
        log: NotificationLog,
        stream: LogStream,
        nats_url: str,
        *,
        listener: LogListener | None = None,
        page: int = PAGE,
        retry_s: float = 0.5,
        ack_timeout_s: float = ACK_TIMEOUT_S,
        on_published: Callable[[int], None] | None = None,
    ) -> None:
        self.log, self.stream, self.nats_url = log, stream, nats_url
        self.listener = listener
        self.page, self.retry_s, self.ack_timeout_s = page, retry_s, ack_timeout_s
        self.on_published = on_published
        self.stats = RelayStats()

    async def run(self, stop: asyncio.Event) -> RelayStats:
        """Publish until `stop` is set, reconnecting and resuming from the stream after errors."""
        if self.listener is not None:
            await self.listener.open()
        try:
            await run_sessions(
                self._session, stop, retry_s=self.retry_s, on_error=self.stats.failed
            )
        finally:
            if self.listener is not None:
                await self.listener.close()
        return self.stats

    async def publish_pending(self, js: JetStreamContext) -> int:
        """Publish everything the stream lacks; return how many messages were published."""
        last = await self.stream.last_position(js)
        sent = 0
        while True:
            # On a thread: while the database is out of reach the store retries for seconds,
            # and the projectors share this event loop.
            page = await asyncio.to_thread(
                self.log.select_notifications, last, self.page, inclusive_of_start=False
            )
            if not page:
                self.stats.position = last
                return sent
            last = await self._publish_page(js, page, last)
            sent += len(page)

    async def _session(self, stop: asyncio.Event) -> None:
        async with session_connection(self.nats_url, "ledger-relay") as client:
            js = client.jetstream(timeout=5)
            await self.stream.ensure(js)
            while not stop.is_set():
                await self.publish_pending(js)
                self.stats.worked()
                await self._wait(stop)

    async def _publish_page(
        self, js: JetStreamContext, page: Sequence[NotificationLike], last: int
    ) -> int:
        acks = []
        previous = last
        for notification in page:
            headers = {
                MSG_ID: str(notification.id),
                PREV_ID: str(previous),
                TOPIC: notification.topic,
                ORIGINATOR: str(notification.originator_id),
                VERSION: str(notification.originator_version),
            }
            if previous:
                headers[EXPECTED_LAST_MSG_ID] = str(previous)
            acks.append(
                await js.publish_async(
                    self.stream.subject(notification.topic),
                    bytes(notification.state),
                    headers=headers,
                )
            )
            previous = notification.id
        try:
            answers = await asyncio.wait_for(asyncio.gather(*acks), self.ack_timeout_s)
        except TimeoutError:
            raise TimeoutError(
                f"JetStream did not acknowledge log positions {page[0].id}..{page[-1].id} "
                f"within {self.ack_timeout_s:g} s"
            ) from None
        for ack in answers:
            if ack.duplicate:
                self.stats.duplicates += 1
            else:
                self.stats.published += 1
        self.stats.position = previous
        if self.on_published is not None:
            self.on_published(previous)
        return previous

    async def _wait(self, stop: asyncio.Event) -> None:
        # Until a NOTIFY, the listener's poll interval, or `stop` (which abandons the LISTEN).
        if self.listener is None:
            await _sleep_or_stop(stop, 0.2)
            return
        waiter = asyncio.ensure_future(self.listener.wait())
        stopper = asyncio.ensure_future(stop.wait())
        done, _ = await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        if waiter not in done:
            waiter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await waiter


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        return
