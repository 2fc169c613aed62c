"""NATS sessions of the relay and the projectors: connect, run, and start over after errors.

A session is one connection; any NATS or network error ends it (no silent reconnect inside
the client, so the session code restarts from its checkpoint), and so does the database
becoming unreachable (a PostgreSQL restart): `run_sessions` opens the next one after a pause,
counting restarts, until `stop` is set.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import nats
import nats.errors
import psycopg
from eventsourcing.persistence import InterfaceError as StoreInterfaceError
from eventsourcing.persistence import OperationalError as StoreOperationalError
from nats.aio.client import Client
from nats.js.errors import APIError


@dataclass
class SessionRecord:
    """How often the sessions of a relay or projector failed, and why (newest last)."""

    restarts: int = 0
    errors: list[str] = field(default_factory=list)
    last_error_at: datetime | None = None
    last_ok_at: datetime | None = None
    """When a session last did its work (published, fetched, or found nothing to do)."""

    @property
    def is_up(self) -> bool:
        """Return whether the newest session works (it did its work after the last error)."""
        return self.last_ok_at is not None and (
            self.last_error_at is None or self.last_ok_at > self.last_error_at
        )

    def worked(self) -> None:
        """Record that the session did its work just now."""
        self.last_ok_at = datetime.now(tz=UTC)

    def failed(self, error: Exception) -> None:
        """Count a session that ended on `error`."""
        self.restarts += 1
        self.last_error_at = datetime.now(tz=UTC)
        self.errors.append(" ".join(f"{type(error).__name__}: {error}".split())[:300])
        del self.errors[:-20]  # the newest are enough, and an outage must not grow memory


SESSION_ERRORS = (
    OSError,
    nats.errors.Error,
    APIError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
    StoreOperationalError,
    StoreInterfaceError,
)
"""What ends a session and is retried: NATS, the network, or the database out of reach.

The event store raises its own `OperationalError`/`InterfaceError` once its retries of a lost
connection are spent. Other exceptions propagate (style S4.6)."""


async def connect(url: str, name: str) -> Client:
    """Connect without client-side reconnects; connection errors are not printed."""
    return await nats.connect(
        url,
        name=name,
        allow_reconnect=False,
        connect_timeout=2,
        max_reconnect_attempts=0,
        error_cb=_quiet,
    )


async def close(client: Client) -> None:
    """Close a connection, broken or not."""
    with contextlib.suppress(Exception):
        await client.close()


async def run_sessions(
    session: Callable[[asyncio.Event], Awaitable[None]],
    stop: asyncio.Event,
    *,
    retry_s: float,
    on_error: Callable[[Exception], None],
) -> None:
    """Run `session` again and again until `stop` is set, pausing `retry_s` after an error."""
    while not stop.is_set():
        try:
            await session(stop)
        except SESSION_ERRORS as error:
            if stop.is_set():
                return  # ended by the shutdown itself (a fetch cut short): no outage
            on_error(error)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), retry_s)


async def _quiet(error: Exception) -> None:
    # The session that used the connection fails and is retried: that is where errors count.
    return None
