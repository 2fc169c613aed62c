"""Writers of one account take turns across processes: a PostgreSQL advisory lock per account.

Within the process the threads of one key queue on a re-entrant lock first, so only one of them
talks to the server, on a connection of its own kept for the key (never one of the pool's: a
pool of waiters would starve the holder of the connection it needs to read and save). The
server releases the advisory lock by itself when that connection ends, so a crashed process
never leaves an account locked.

The lock is asked for when the turn begins and its answer read when the writer is about to save
(`granted`), through libpq's asynchronous API on the connection's `pgconn`, so the round trip
overlaps the writer's reads;
the unlock is sent without waiting for its answer, which is read before the next lock. Waiting
for both on a `psycopg.Connection` cost a place-order command 9 %.
"""

from __future__ import annotations

import contextlib
import select
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import pq
from psycopg.conninfo import make_conninfo

from adapters.postgres.advisory_keys import advisory_key

CONNECT_TIMEOUT_S = 10
LOCK = b"SELECT pg_advisory_lock($1::bigint)"
UNLOCK = b"SELECT pg_advisory_unlock($1::bigint)"


def writer_lock_key(schema: str, key: str) -> int:
    """Return the advisory-lock key of `key`'s writers in `schema` (a signed 64-bit int)."""
    return advisory_key(f"writers {schema} {key}")


class LockLine:
    """A server connection that only takes and gives back one advisory lock.

    Not thread-safe: its one user at a time is the holder of the key's process lock.
    """

    def __init__(self, conninfo: str, lock_key: int) -> None:
        self._conninfo = make_conninfo(conninfo, connect_timeout=CONNECT_TIMEOUT_S)
        self._key = [str(lock_key).encode()]
        self._connection: psycopg.Connection[Any] | None = None
        self._is_asked = False
        """The lock was asked for and its answer not read yet."""

    def ask(self) -> None:
        """Ask for the lock without waiting for it (a broken connection is found later)."""
        try:
            pg = self._connected()
            self._drain(pg)
            pg.send_query_params(LOCK, self._key)
            while pg.flush():
                pass
            self._is_asked = True
        except psycopg.OperationalError:
            self.close()  # `wait` connects again and waits there

    def wait(self) -> None:
        """Return once the lock is this connection's (asked for now if it was not).

        Raises:
            psycopg.OperationalError: the server cannot be reached.
        """
        if self._is_asked:
            self._is_asked = False
            try:
                self._read_lock_answer(self._connected())
                return
            except psycopg.OperationalError:
                self.close()  # the server ended the connection (a restart): once more, anew
        pg = self._connected()
        self._drain(pg)
        pg.send_query_params(LOCK, self._key)
        self._read_lock_answer(pg)

    def give_back(self, *, is_held: bool) -> None:
        """Give the lock back without waiting for the answer (`is_held`: it was waited for)."""
        if self._connection is None or self._connection.closed:
            self._is_asked = False
            return
        pg = self._connection.pgconn
        try:
            if self._is_asked:  # asked, never waited for: it must be ours before it is released
                self._is_asked = False
                self._read_lock_answer(pg)
            elif not is_held:
                return
            pg.send_query_params(UNLOCK, self._key)
            while pg.flush():
                pass
        except psycopg.Error:
            self.close()  # the connection broke: the server released the lock with it

    def close(self) -> None:
        """End the connection (the server releases the lock, if it was held)."""
        self._is_asked = False
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _read_lock_answer(self, pg: pq.abc.PGconn) -> None:
        result = _next_result(pg)
        while _next_result(pg) is not None:
            pass
        if result is None or result.status != pq.ExecStatus.TUPLES_OK:
            message = (pg.get_error_message() or "no answer").strip()
            raise psycopg.OperationalError(f"advisory lock of the account's writers: {message}")

    @staticmethod
    def _drain(pg: pq.abc.PGconn) -> None:
        while _next_result(pg) is not None:  # the previous unlock's answer
            pass

    def _connected(self) -> pq.abc.PGconn:
        if self._connection is None or self._connection.closed:
            self.close()
            self._connection = psycopg.connect(self._conninfo, autocommit=True)
        return self._connection.pgconn


def _next_result(pg: pq.abc.PGconn) -> pq.abc.PGresult | None:
    """Return the next result, waiting for it outside the interpreter's lock.

    libpq's `PQgetResult` blocks holding the GIL: a writer waiting there for the advisory lock
    would stop the very thread that holds it (seen as a hang of four writers in one process).
    So wait for the socket in `select`, which releases the GIL, until the result is complete.
    """
    pg.consume_input()
    while pg.is_busy():
        select.select([pg.socket], [], [])
        pg.consume_input()
    return pg.get_result()


@dataclass
class _Slot:
    line: LockLine
    lock: threading.RLock = field(default_factory=threading.RLock)
    depth: int = 0
    is_granted: bool = False

    def granted(self) -> None:
        if not self.is_granted:
            self.line.wait()
            self.is_granted = True


class AdvisoryWriterTurns:
    """Turns of a key's writers among all processes on one PostgreSQL schema."""

    def __init__(self, connect_kwargs: Mapping[str, Any], schema: str) -> None:
        self._conninfo = make_conninfo(**connect_kwargs)
        self._schema = schema
        self._slots: dict[str, _Slot] = {}
        self._guard = threading.Lock()

    @contextlib.contextmanager
    def hold(self, key: str) -> Iterator[_Slot]:
        """Hold `key`'s turn in this process, asking for the server's lock (see `granted`)."""
        with self._guard:
            slot = self._slots.get(key)
            if slot is None:
                line = LockLine(self._conninfo, writer_lock_key(self._schema, key))
                slot = self._slots[key] = _Slot(line)
        with slot.lock:
            if slot.depth == 0:
                slot.line.ask()
            slot.depth += 1
            try:
                yield slot
            finally:
                slot.depth -= 1
                if slot.depth == 0:
                    slot.line.give_back(is_held=slot.is_granted)
                    slot.is_granted = False

    def close(self) -> None:
        """Close the lock connections (their locks, if any were held, are released)."""
        with self._guard:
            slots = list(self._slots.values())
        for slot in slots:
            with slot.lock:
                slot.line.close()
