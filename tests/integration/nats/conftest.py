"""Shared pieces of the NATS tests: a ledger with events, a fresh stream, reading it back."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import nats
import pytest
from nats.js.api import ConsumerConfig, DeliverPolicy

from adapters.nats.stream import LogStream
from commands.messages import AllocateCapital
from commands.trading import Trading
from tests.builders import cause, place_limit_bid


@dataclass(frozen=True)
class Published:
    """One message of the stream, as a subscriber sees it."""

    seq: int
    subject: str
    headers: dict[str, str]
    data: bytes


def append_orders(app: Trading, orders: int, *, batch: int = 250, prefix: str = "o") -> None:
    """Append events by placing `orders` limit bids (two events each), `batch` per save."""
    app.allocate_capital(AllocateCapital("alpha", str(orders * 20000), cause()))
    for start in range(0, orders, batch):
        app.place_orders(
            [
                place_limit_bid(f"{prefix}-{n}", price_krw="1000000", volume_btc="0.01")
                for n in range(start, min(start + batch, orders))
            ]
        )


def read_stream(url: str, stream: LogStream) -> list[Published]:
    """Return every message of `stream`, in stream order."""

    async def read() -> list[Published]:
        client = await nats.connect(url)
        try:
            js = client.jetstream()
            info = await js.stream_info(stream.name)
            total = info.state.messages
            subscription = await js.subscribe(
                stream.subjects,
                ordered_consumer=True,
                config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL),
            )
            found = []
            for _ in range(total):
                message = await subscription.next_msg(timeout=5)
                found.append(
                    Published(
                        message.metadata.sequence.stream,
                        message.subject,
                        dict(message.headers or {}),
                        message.data,
                    )
                )
            await subscription.unsubscribe()
            return found
        finally:
            await client.close()

    return asyncio.run(read())


@pytest.fixture
def stream() -> LogStream:
    """A stream of its own for each test (the NATS server is shared by the session)."""
    return LogStream(f"t{uuid.uuid4().hex[:12]}", duplicate_window_s=120.0)


@pytest.fixture
def ledger(pg_schema) -> Iterator[Trading]:  # type: ignore[no-untyped-def]
    app = Trading(pg_schema.eventsourcing_env())
    yield app
    app.close()
