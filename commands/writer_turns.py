"""Writers of one account take turns, so a command never loses a race and never gives up.

Every command on an account touches its cash ledger (`Portfolio`), so any two writers of one
account contend. Optimistic concurrency alone let them retry until some gave up under load
(issue 18 #9: 26 of 200 concurrent orders answered `write_conflict`). Instead a writer holds
the account's turn while it decides and saves: within a process the turn is a re-entrant lock
per account; on PostgreSQL the recorder adds an advisory lock, so processes take turns too
(`adapters/postgres/writer_lock.py`).

The advisory lock is asked for when the turn begins and awaited only when the writer saves
(`Turn.granted`), so the wait overlaps the writer's reads and costs next to nothing when no one
else writes. A writer whose reads overlapped another process's save loses the version check of
its save once, then decides again holding the lock, where nobody else can save: two attempts
at most, whatever the number of writers. The version check stays, as the backstop of a writer
that went around the turn.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Protocol


class Turn(Protocol):
    """A writer's turn on a key: granted in this process; maybe still pending elsewhere."""

    def granted(self) -> None:
        """Return once no writer of another process can save on the key (wait if need be)."""
        ...


class WriterTurns(Protocol):
    """Turns of the writers of one key (an account): one writer at a time holds it."""

    def hold(self, key: str) -> contextlib.AbstractContextManager[Turn]:
        """Wait for `key`'s turn and hold it for the `with` block (re-entrant per thread)."""
        ...


class _GrantedTurn:
    def granted(self) -> None:
        return None


class ProcessWriterTurns:
    """Turns among the threads of this process (an in-memory log has no other writers)."""

    def __init__(self) -> None:
        self._locks: dict[str, threading.RLock] = {}
        self._guard = threading.Lock()

    @contextlib.contextmanager
    def hold(self, key: str) -> Iterator[Turn]:
        """Hold `key`'s turn among this process's threads."""
        with self._guard:
            lock = self._locks.setdefault(key, threading.RLock())
        with lock:
            yield _GrantedTurn()
