"""Writers of one account take turns across processes: a PostgreSQL advisory lock per account.

Within the process the threads of one key queue on a re-entrant lock first, so only one of them
waits on the server, on a connection of its own kept for the key (never one of the pool's: a
pool of waiters would starve the holder of the connection it needs to read and save). The
server releases the advisory lock by itself when that connection ends, so a crashed process
never leaves an account locked.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import psycopg


def writer_lock_key(schema: str, key: str) -> int:
    """Return the advisory-lock key of `key`'s writers in `schema` (a signed 64-bit int)."""
    digest = hashlib.sha256(f"upbit-ledger writers {schema} {key}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@dataclass
class _Slot:
    lock: threading.RLock = field(default_factory=threading.RLock)
    depth: int = 0
    connection: psycopg.Connection[Any] | None = None


class AdvisoryWriterTurns:
    """Turns of a key's writers among all processes on one PostgreSQL schema."""

    def __init__(self, connect_kwargs: Mapping[str, Any], schema: str) -> None:
        self._connect_kwargs = dict(connect_kwargs)
        self._schema = schema
        self._slots: dict[str, _Slot] = {}
        self._guard = threading.Lock()

    @contextlib.contextmanager
    def hold(self, key: str) -> Iterator[None]:
        """Hold `key`'s turn: first among this process's threads, then among processes."""
        with self._guard:
            slot = self._slots.setdefault(key, _Slot())
        with slot.lock:
            if slot.depth == 0:
                self._lock(slot, writer_lock_key(self._schema, key))
            slot.depth += 1
            try:
                yield
            finally:
                slot.depth -= 1
                if slot.depth == 0:
                    self._unlock(slot, writer_lock_key(self._schema, key))

    def close(self) -> None:
        """Close the lock connections (their locks, if any were held, are released)."""
        with self._guard:
            slots = list(self._slots.values())
        for slot in slots:
            if slot.connection is not None:
                slot.connection.close()
                slot.connection = None

    def _lock(self, slot: _Slot, lock_key: int) -> None:
        for attempt in (1, 2):
            try:
                if slot.connection is None or slot.connection.closed:
                    slot.connection = psycopg.connect(**self._connect_kwargs, autocommit=True)
                slot.connection.execute("SELECT pg_advisory_lock(%s)", [lock_key])
                return
            except psycopg.OperationalError:
                # The server ended the connection (a restart): one fresh connection, then fail.
                if slot.connection is not None:
                    slot.connection.close()
                slot.connection = None
                if attempt == 2:
                    raise

    def _unlock(self, slot: _Slot, lock_key: int) -> None:
        if slot.connection is None:
            return
        try:
            slot.connection.execute("SELECT pg_advisory_unlock(%s)", [lock_key])
        except psycopg.Error:
            # The connection broke: the server released the lock with it.
            slot.connection.close()
            slot.connection = None
