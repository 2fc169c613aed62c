"""NATS sessions of the relay and the projectors: connect, run, and start over after errors.

A session is one connection; any NATS or network error ends it (no silent reconnect inside
the client, so the session code restarts from its checkpoint), and `run_sessions` opens the
next one after a pause, counting restarts, until `stop` is set.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import nats
import nats.errors
from nats.aio.client import Client
from nats.js.errors import APIError


@dataclass
class SessionRecord:
    """How often the sessions of a relay or projector failed, and why (newest last)."""

    restarts: int = 0
    errors: list[str] = field(default_factory=list)

    def failed(self, error: Exception) -> None:
        """Count a session that ended on `error`."""
        self.restarts += 1
        self.errors.append(f"{type(error).__name__}: {error}"[:300])


SESSION_ERRORS = (OSError, nats.errors.Error, APIError)
"""What ends a session and is retried (other exceptions propagate)."""


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
            on_error(error)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), retry_s)


async def _quiet(error: Exception) -> None:
    # The session that used the connection fails and is retried: that is where errors count.
    return None
