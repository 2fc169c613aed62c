"""Wake up when the log grows: PostgreSQL LISTEN on the event table's channel, plus polling.

The eventsourcing recorder NOTIFYs its channel in every insert transaction. A NOTIFY can be
lost (eventsourcing #305), so a waiter also wakes after `poll_s` whatever happens. A connection
the server dropped (a restart) is opened again at the next wait; until then, it polls.
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
        self._was_opened = False

    async def open(self) -> None:
        """Connect and LISTEN (autocommit, so notifications arrive as they are sent)."""
        connection = await psycopg.AsyncConnection.connect(
            self.conninfo, autocommit=True, connect_timeout=2
        )
        try:
            await connection.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
        except BaseException:
            await connection.close()
            raise
        self._connection, self._was_opened = connection, True

    async def wait(self) -> None:
        """Return at the next NOTIFY, or after `poll_s` seconds at the latest."""
        if self._connection is None and self._was_opened:
            with contextlib.suppress(psycopg.Error, OSError):
                await self.open()  # the server is back; until it is, poll
        if self._connection is None:
            await asyncio.sleep(self.poll_s)
            return
        try:
            async for _ in self._connection.notifies(timeout=self.poll_s, stop_after=1):
                break
        except psycopg.Error:
            # The connection is gone (e.g. a server restart): poll until it can be opened again.
            with contextlib.suppress(psycopg.Error):
                await self._connection.close()
            self._connection = None

    async def close(self) -> None:
        """Close the connection."""
        self._was_opened = False
        if self._connection is not None:
            with contextlib.suppress(psycopg.Error):
                await self._connection.close()
            self._connection = None
