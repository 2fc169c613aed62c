"""Apply logged events to one projection's read model: exactly once, in order, gaps filled.

Per batch, one transaction: lock the tracking row, skip events at or before its position
(redeliveries), fill any gap from the log itself (an event's predecessor must be the tracked
position), apply the rows, move the position, commit (guide §5.3). An event that cannot be
applied stops the projection: the events before it are committed, it is parked with its error,
and nothing more is applied until an operator retries it. The database out of reach (a
restart) is no fault of an event: nothing is parked, the error is raised for the caller to
retry, and the next batch opens a new connection.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.persistence import InterfaceError as StoreInterfaceError
from eventsourcing.persistence import OperationalError as StoreOperationalError
from eventsourcing.persistence import StoredEvent

from adapters.postgres.read_model_store import ReadModelStore, ReadModelTransaction
from domain.events import LedgerEvent
from projections.projection import Projection
from projections.rows import RowOp

Decode = Callable[[StoredEvent], Any]
LOG_PAGE = 1000


@dataclass(frozen=True)
class LogItem:
    """One logged event as it travels: its position, its predecessor's, and the stored event."""

    position: int
    previous: int | None
    """The position of the event logged before it (None: unknown, e.g. read from the log)."""
    topic: str
    originator_id: UUID
    originator_version: int
    state: bytes

    def stored(self) -> StoredEvent:
        """Return the event as the event store keeps it."""
        return StoredEvent(self.originator_id, self.originator_version, self.topic, self.state)


class LogReader:
    """Reads a span of the log (the eventsourcing recorder), for gaps and rebuilds."""

    def __init__(self, recorder: Any) -> None:
        self.recorder = recorder

    def items(self, after: int, upto: int | None = None, page: int = LOG_PAGE) -> Iterable[LogItem]:
        """Yield the logged events after position `after` (up to `upto`, inclusive)."""
        previous = after
        while True:
            found = self.recorder.select_notifications(
                start=previous, limit=page, stop=upto, inclusive_of_start=False
            )
            if not found:
                return
            for n in found:
                yield LogItem(
                    n.id, previous, n.topic, n.originator_id, n.originator_version, bytes(n.state)
                )
                previous = n.id
            if len(found) < page:
                return


class ProjectionStoppedError(Exception):
    """The projection stopped at an event it could not apply (parked until retried)."""

    def __init__(self, projection: str, position: int, bus_name: str, error: str) -> None:
        super().__init__(
            f"projection {projection} stopped at event {position} ({bus_name}): {error}; fix the "
            f"cause, then `ledger projections retry {projection}`"
        )
        self.projection, self.position, self.bus_name, self.error = (
            projection,
            position,
            bus_name,
            error,
        )


@dataclass(frozen=True)
class BatchResult:
    """What one batch did: events applied, redeliveries skipped, gap events read from the log."""

    applied: int
    skipped: int
    gap_filled: int
    position: int

    def plus(self, later: BatchResult) -> BatchResult:
        """Return the totals of this batch and a `later` one."""
        return BatchResult(
            self.applied + later.applied,
            self.skipped + later.skipped,
            self.gap_filled + later.gap_filled,
            later.position,
        )


class ProjectionWriter:
    """Applies events to `projection`'s tables through `store`, tracked as `tracking_name`."""

    def __init__(
        self,
        store: ReadModelStore,
        projection: Projection,
        log: LogReader,
        decode: Decode,
        *,
        tables: Mapping[str, str] | None = None,
        tracking_name: str | None = None,
    ) -> None:
        self.store, self.projection, self.log, self.decode = store, projection, log, decode
        self.tables = tables or {}
        self.name = tracking_name or projection.name
        self._connection = store.connect()

    def close(self) -> None:
        """Close the connection."""
        self._connection.close()

    def position(self) -> int:
        """Return the last applied position."""
        with self.store.transaction(self._connected(), self.tables) as tx:
            return tx.lock_position(self.name)

    def _connected(self) -> psycopg.Connection[tuple[Any, ...]]:
        # A connection the server dropped (a restart) is replaced; connecting may itself fail
        # while the server is down, which the caller retries.
        if self._connection.closed or self._connection.broken:
            self._connection.close()
            self._connection = self.store.connect()
        return self._connection

    def _is_outage(self, error: Exception) -> bool:
        if isinstance(error, StoreOperationalError | StoreInterfaceError):
            return True  # the log could not be read (its store's own retries are spent)
        if isinstance(error, psycopg.OperationalError | psycopg.InterfaceError):
            return self._connection.closed or self._connection.broken
        return False

    def catch_up(
        self,
        upto: int | None = None,
        *,
        batch: int = LOG_PAGE,
        on_progress: Callable[[int], None] | None = None,
    ) -> BatchResult:
        """Apply every logged event after the tracked position (up to `upto`); return totals.

        Events are read straight from the log and applied `batch` per transaction.

        Raises:
            ProjectionStoppedError: an event could not be applied, or one is parked already.
        """
        totals = BatchResult(0, 0, 0, self.position())
        pending: list[LogItem] = []
        for item in self.log.items(totals.position, upto):
            pending.append(item)
            if len(pending) == batch:
                totals, pending = totals.plus(self.apply_batch(pending)), []
                if on_progress is not None:
                    on_progress(totals.position)
        return totals.plus(self.apply_batch(pending)) if pending else totals

    def apply_batch(self, items: Sequence[LogItem]) -> BatchResult:
        """Apply `items` (in log order) in one transaction; see the module docstring.

        Raises:
            ProjectionStoppedError: an event could not be applied, or one is parked already.
            psycopg.OperationalError: the database is out of reach (nothing parked; retry).
        """
        try:
            with self.store.transaction(self._connected(), self.tables) as tx:
                result = self._apply(tx, items, refuse_if_parked=True)
            return result
        except ProjectionStoppedError:
            raise
        except Exception as error:  # noqa: BLE001 - rolled back: find the failing event
            if self._is_outage(error):
                raise
            return self._apply_one_by_one(items)

    def _apply(
        self, tx: ReadModelTransaction, items: Sequence[LogItem], *, refuse_if_parked: bool = False
    ) -> BatchResult:
        last, parked = tx.lock_tracking(self.name)
        if refuse_if_parked and parked is not None:
            position, bus_name, error = parked
            raise ProjectionStoppedError(self.name, position, bus_name, error)
        ops: list[RowOp] = []
        applied = skipped = gap = 0
        for item in items:
            if item.position <= last:
                skipped += 1
                continue
            if item.previous is not None and item.previous != last:
                for missing in self.log.items(last, item.position - 1):
                    ops.extend(self._rows(missing))
                    gap += 1
            ops.extend(self._rows(item))
            applied += 1
            last = item.position
        tx.apply(ops)
        tx.set_position(self.name, last)
        return BatchResult(applied, skipped, gap, last)

    def _apply_one_by_one(self, items: Sequence[LogItem]) -> BatchResult:
        applied = skipped = gap = 0
        position = 0
        for item in items:
            try:
                with self.store.transaction(self._connected(), self.tables) as tx:
                    result = self._apply(tx, [item])
            except Exception as error:  # noqa: BLE001 - parked with its error, then raised
                if self._is_outage(error):
                    raise
                self._park(item, error)
            applied += result.applied
            skipped += result.skipped
            gap += result.gap_filled
            position = result.position
        return BatchResult(applied, skipped, gap, position)

    def _park(self, item: LogItem, error: Exception) -> None:
        message = f"{type(error).__name__}: {error}"[:2000]
        with self.store.transaction(self._connected(), self.tables) as tx:
            tx.park(self.name, item.position, item.topic, message)
        raise ProjectionStoppedError(self.name, item.position, item.topic, message) from error

    def _rows(self, item: LogItem) -> list[RowOp]:
        event = self.decode(item.stored())
        if not isinstance(event, LedgerEvent):
            raise TypeError(f"event {item.position} ({item.topic}) is not a ledger event")
        return self.projection.rows(event, item.position)
