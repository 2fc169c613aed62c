"""A trading run is held by one process at a time: its lease in PostgreSQL (issue 18 #8).

The lease is a session advisory lock on a connection of its own, so it ends with its holder:
at once when the process dies (the server sees the socket close), and within about
`expiry_s` when its host vanishes (server-side TCP keepalives on that connection). Beside the
lock, the row of `run_leases` names the holder (host, pid, since) for a process that is
refused, and carries a token raised by every new holder: before each order or cancel is sent,
`check` confirms that the row's token is still this holder's (taking the lock again after a
PostgreSQL restart ended its connection), so a process that lost its lease stops before
sending anything more.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from adapters.postgres.advisory_keys import advisory_key
from commands.errors import RunHeldError, RunLeaseLostError

DEFAULT_EXPIRY_S = 30
CONNECT_TIMEOUT_S = 10


def run_lease_key(schema: str, run_id: str) -> int:
    """Return the advisory-lock key of a run's lease in `schema` (a signed 64-bit int)."""
    return advisory_key(f"run lease {schema} {run_id}")


@dataclass(frozen=True)
class LeaseHolder:
    """The process that holds a run: where, which, since when, and its fencing token."""

    host: str
    pid: int
    since: datetime
    token: int

    def describe(self) -> str:
        """Return the holder in words, for an operator."""
        return f"pid {self.pid} on {self.host} since {self.since:%Y-%m-%d %H:%M:%S %Z}"


class RunLease:
    """The lease of one run in one schema, taken by this process."""

    def __init__(
        self,
        conninfo: str,
        schema: str,
        run_id: str,
        *,
        expiry_s: int = DEFAULT_EXPIRY_S,
        host: str | None = None,
        pid: int | None = None,
    ) -> None:
        self.conninfo, self.schema, self.run_id = conninfo, schema, run_id
        self.expiry_s = max(3, expiry_s)
        self.host = host or socket.gethostname()
        self.pid = pid if pid is not None else os.getpid()
        self.holder: LeaseHolder | None = None
        self._connection: psycopg.Connection[Any] | None = None
        self._table = sql.Identifier(schema, "run_leases")

    def __enter__(self) -> RunLease:
        """Take the lease (`acquire`) for the `with` block."""
        self.acquire()
        return self

    def __exit__(self, *_: object) -> None:
        """Give the lease back (`release`)."""
        self.release()

    def acquire(self) -> LeaseHolder:
        """Take the run's lease; return this process as its holder.

        Raises:
            RunHeldError: another process holds the run (named in the message).
            psycopg.OperationalError: the server cannot be reached.
        """
        connection = self._locked_connection()
        try:
            statement = sql.SQL(
                "INSERT INTO {t} AS l (run_id, host, pid, since, token) "
                "VALUES (%s, %s, %s, now(), 1) ON CONFLICT (run_id) DO UPDATE SET "
                "host = excluded.host, pid = excluded.pid, since = excluded.since, "
                "token = l.token + 1 RETURNING host, pid, since, token"
            ).format(t=self._table)
            taken = connection.execute(statement, [self.run_id, self.host, self.pid]).fetchone()
            assert taken is not None
        except BaseException:
            connection.close()
            raise
        self._connection = connection
        self.holder = LeaseHolder(*taken)
        return self.holder

    def check(self) -> None:
        """Confirm this process still holds the lease (before anything is sent).

        When the lease's connection ended (a PostgreSQL restart) the lease is taken again,
        if no other process took the run in between (the token is still this holder's).

        Raises:
            RunLeaseLostError: another process took the run; nothing more may be sent.
            psycopg.OperationalError: PostgreSQL is out of reach (retry later).
        """
        holder = self.holder
        if holder is None:
            raise RunLeaseLostError(f"run {self.run_id!r}: this process holds no lease")
        if self._connection is not None:
            try:
                self._require_token(self._connection, holder.token)
                return
            except psycopg.OperationalError:
                self._connection.close()  # ended with the server: so did the lock
                self._connection = None
        try:
            connection = self._locked_connection()
        except RunHeldError as held:
            raise RunLeaseLostError(
                f"run {self.run_id!r}: the lease was lost while PostgreSQL was out of reach; {held}"
            ) from None
        try:
            self._require_token(connection, holder.token)
        except BaseException:
            connection.close()
            raise
        self._connection = connection

    def _require_token(self, connection: psycopg.Connection[Any], token: int) -> None:
        row = connection.execute(
            sql.SQL("SELECT token FROM {t} WHERE run_id = %s").format(t=self._table),
            [self.run_id],
        ).fetchone()
        if row is None or row[0] != token:
            raise RunLeaseLostError(
                f"run {self.run_id!r}: another process took the lease (token "
                f"{row[0] if row else 'none'}, ours {token}); nothing more is sent"
            )

    def _locked_connection(self) -> psycopg.Connection[Any]:
        connection = psycopg.connect(
            self.conninfo, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S
        )
        try:
            # The server ends this session (and so the lease) when its host goes silent.
            idle, interval = max(1, self.expiry_s // 3), max(1, self.expiry_s // 6)
            connection.execute(f"SET tcp_keepalives_idle = {idle}")
            connection.execute(f"SET tcp_keepalives_interval = {interval}")
            connection.execute("SET tcp_keepalives_count = 3")
            row = connection.execute(
                "SELECT pg_try_advisory_lock(%s)", [run_lease_key(self.schema, self.run_id)]
            ).fetchone()
            if row is None or not row[0]:
                raise RunHeldError(self._refusal(connection))
        except BaseException:
            connection.close()
            raise
        return connection

    def release(self) -> None:
        """Give the lease back (the row stays, naming the last holder)."""
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            connection.execute(
                "SELECT pg_advisory_unlock(%s)", [run_lease_key(self.schema, self.run_id)]
            )
        except psycopg.Error:
            pass  # the connection is gone: so is the lock
        finally:
            connection.close()

    def _refusal(self, connection: psycopg.Connection[Any]) -> str:
        row = connection.execute(
            sql.SQL("SELECT host, pid, since, token FROM {t} WHERE run_id = %s").format(
                t=self._table
            ),
            [self.run_id],
        ).fetchone()
        held_by = LeaseHolder(*row).describe() if row else "a process that is still starting"
        return (
            f"run {self.run_id!r} is held by {held_by}: a run is traded by one process at a "
            "time; stop that process first (`ledger status` shows it), or choose another "
            f"--run-id. A holder that died frees the run at once; one whose host vanished, "
            f"within about {self.expiry_s} s"
        )
