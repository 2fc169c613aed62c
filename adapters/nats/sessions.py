"""NATS sessions of the relay and the projectors: connect, run, and start over after errors.

A session is one connection; any NATS or network error ends it (no silent reconnect inside
the client, so the session code restarts from its checkpoint), and so does the database
becoming unreachable (a PostgreSQL restart): `run_sessions` opens the next one after a pause,
counting restarts, until `stop` is set.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import nats
import nats.errors
import psycopg
from eventsourcing.persistence import InterfaceError as StoreInterfaceError
from eventsourcing.persistence import OperationalError as StoreOperationalError
from nats.aio.client import Client
from nats.js.errors import APIError

NATS_OUT_OF_REACH = "NATS out of reach"
DATABASE_OUT_OF_REACH = "the database out of reach"
NATS_LATE = "NATS did not answer in time"


def failure_cause(error: Exception) -> str:
    """Return in words why a session ended on `error`: what was out of reach, or late."""
    if isinstance(error, _DATABASE_ERRORS):
        return DATABASE_OUT_OF_REACH
    if isinstance(error, TimeoutError):
        return NATS_LATE  # a request timed out on a connection that is still open
    return NATS_OUT_OF_REACH


@dataclass
class SessionRecord:
    """How often the sessions of a relay or projector failed, and why (newest last).

    `restarts` counts every session that ended on an error: `reconnects` those that lost NATS
    or the database, `timeouts` those where NATS answered a request too late.
    """

    restarts: int = 0
    reconnects: int = 0
    timeouts: int = 0
    last_cause: str | None = None
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
        self.last_cause = failure_cause(error)
        if self.last_cause == NATS_LATE:
            self.timeouts += 1
        else:
            self.reconnects += 1
        self.last_error_at = datetime.now(tz=UTC)
        self.errors.append(" ".join(f"{type(error).__name__}: {error}".split())[:300])
        del self.errors[:-20]  # the newest are enough, and an outage must not grow memory


_DATABASE_ERRORS = (
    psycopg.OperationalError,
    psycopg.InterfaceError,
    StoreOperationalError,
    StoreInterfaceError,
)
SESSION_ERRORS = (OSError, nats.errors.Error, APIError, *_DATABASE_ERRORS)
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


@contextlib.asynccontextmanager
async def session_connection(url: str, name: str) -> AsyncIterator[Client]:
    """Connect (as `connect`) for one session; close after it.

    A request that timed out because the connection went is reported as the connection
    closed, so only a late reply on a live connection counts as NATS answering late.
    """
    client = await connect(url, name)
    try:
        yield client
    except TimeoutError:
        if not client.is_connected:
            raise nats.errors.ConnectionClosedError from None
        raise
    finally:
        await close(client)


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
