"""Wake up when the log grows: PostgreSQL LISTEN on the event table's channel, plus polling.

The eventsourcing recorder NOTIFYs its channel in every insert transaction. A NOTIFY can be
lost (eventsourcing #305), so a waiter also wakes after `poll_s` whatever happens.
"""

from __future__ import annotations

import asyncio
import contextlib

import psycopg
from psycopg import sql


class LogListener:
    """An async LISTEN connection on `channel`; `wait()` returns on a NOTIFY or after a poll."""

    def __init__(self, conninfo: str, channel: str, *, poll_s: float = 1.0) -> None:
        self.conninfo, self.channel, self.poll_s = conninfo, channel, poll_s
        self._connection: psycopg.AsyncConnection[tuple[object, ...]] | None = None

    async def open(self) -> None:
        """Connect and LISTEN (autocommit, so notifications arrive as they are sent)."""
        self._connection = await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True)
        await self._connection.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))

    async def wait(self) -> None:
        """Return at the next NOTIFY, or after `poll_s` seconds at the latest."""
        if self._connection is None:
            await asyncio.sleep(self.poll_s)
            return
        try:
            async for _ in self._connection.notifies(timeout=self.poll_s, stop_after=1):
                break
        except psycopg.OperationalError:
            # The connection is gone (e.g. a server restart): fall back to polling alone.
            with contextlib.suppress(psycopg.Error):
                await self._connection.close()
            self._connection = None

    async def close(self) -> None:
        """Close the connection."""
        if self._connection is not None:
            with contextlib.suppress(psycopg.Error):
                await self._connection.close()
            self._connection = None
