"""Writers of one account take turns, so a command never loses a race and never gives up.

Every command on an account touches its cash ledger (`Portfolio`), so any two writers of one
account contend. Optimistic concurrency alone let them retry until some gave up under load
(issue 18 #9: 7 of 200 concurrent orders answered `write_conflict`). Instead, a writer holds
the account's turn from the first read to the save: within a process the turn is a re-entrant
lock per account; on PostgreSQL the recorder adds an advisory lock, so processes take turns too
(`adapters/postgres/writer_lock.py`). The version check of the save stays, as the backstop of a
writer that went around the turn.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Protocol


class WriterTurns(Protocol):
    """Turns of the writers of one key (an account): one writer at a time holds it."""

    def hold(self, key: str) -> contextlib.AbstractContextManager[None]:
        """Wait for `key`'s turn and hold it for the `with` block (re-entrant per thread)."""
        ...


class ProcessWriterTurns:
    """Turns among the threads of this process (an in-memory log has no other writers)."""

    def __init__(self) -> None:
        self._locks: dict[str, threading.RLock] = {}
        self._guard = threading.Lock()

    @contextlib.contextmanager
    def hold(self, key: str) -> Iterator[None]:
        """Hold `key`'s turn among this process's threads."""
        with self._guard:
            lock = self._locks.setdefault(key, threading.RLock())
        with lock:
            yield
