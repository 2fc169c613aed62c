"""The event log's recorder: the library's PostgreSQL process recorder, two changes.

The library sends LOCK, NOTIFY and the INSERT of a save in libpq pipeline mode. With large
saves (about 1 MB of events: 500 orders in one `place_orders`) that deadlocked here: the server
waited for the rest of the INSERT while the client waited for results (seen over the Unix
socket at 1,000 events per save, over TCP at 10,000; psycopg 3.3.9, eventsourcing 9.5.6).
Here a save is two statements sent one after the other, which cannot deadlock.

The INSERT passes plain arrays (ids, originator ids, versions, topics, states) instead of one
array of a composite type: psycopg then sends the bytes as bytea without escaping every event's
state through a regular expression, which took a third of a 30 MB bulk import. Table lock,
NOTIFY, commit order and tracking are the library's.

It also keeps the audit chain (docs/audit.md, `chain_table.py`): the first statement takes the
table lock and NOTIFYs; the second (prepared) reads the chain's head and draws the events'
notification ids from the table's sequence; the third inserts the events and the save's row of
links in `ledger_chain_saves` together. So
no event is ever recorded unchained, skipped or chained out of order. A log that holds events
from before the chain (an empty chain) has them chained first, in the next save; an event
written around the ledger once the chain exists is never chained, so verify names it. When a
save takes the chain past a multiple of `checkpoint_every`, the head is handed to the
application (`take_due_checkpoints`), which records it as `audit.chain.checkpointed`.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import psycopg
from eventsourcing.persistence import (
    InterfaceError,
    OperationalError,
    StoredEvent,
)
from eventsourcing.postgres import PostgresDatastore, PostgresProcessRecorder
from eventsourcing.utils import get_topic, retry
from psycopg.conninfo import make_conninfo
from psycopg.sql import SQL, Identifier

from adapters.postgres.advisory_keys import advisory_key
from adapters.postgres.chain_reader import (
    ChainReader,
    ChainStatus,
    chain_status_of,
    status_statement,
)
from adapters.postgres.chain_table import (
    ChainRecord,
    ChainWriter,
    chain_table_name,
    create_chain_table,
)
from adapters.postgres.run_progress_table import RunProgressTable, create_run_progress_table
from adapters.postgres.writer_lock import AdvisoryWriterTurns
from commands.run_progress import RUN_PROGRESS_KWARG, RunProgress
from domain.audit.checkpoint import ChainHead

DEFAULT_CHECKPOINT_EVERY = 10_000


class LedgerProcessRecorder(PostgresProcessRecorder):
    """Insert each save's events (and tracking) in one transaction, without pipelining."""

    def __init__(
        self,
        datastore: PostgresDatastore,
        *,
        events_table_name: str = "stored_events",
        tracking_table_name: str = "notification_tracking",
    ) -> None:
        super().__init__(
            datastore,
            events_table_name=events_table_name,
            tracking_table_name=tracking_table_name,
        )
        self.sql_create_statements.extend(create_chain_table(datastore.schema, events_table_name))
        self.sql_create_statements.extend(
            create_run_progress_table(datastore.schema, events_table_name)
        )
        self.chain = ChainWriter(datastore.schema, events_table_name)
        self.run_progress = RunProgressTable(datastore.schema, events_table_name)
        self.checkpoint_every = DEFAULT_CHECKPOINT_EVERY
        self._due: list[ChainHead] = []
        self._due_lock = threading.Lock()

    def create_table(self) -> None:
        """Create the log's tables as the library does, one process at a time.

        Every process that opens the log runs these statements, and the library's `CREATE
        OR REPLACE FUNCTION` run by two sessions at once fails with "tuple concurrently
        updated" (seen with `ledger run` opening its run's log beside another process). The
        lock's key is not the migrator's, which `bootstrap` may hold around this call.
        """
        with psycopg.connect(**self._connect_kwargs(), autocommit=True) as connection:
            key = table_setup_lock_key(self.datastore.schema, self.events_table_name)
            connection.execute("SELECT pg_advisory_lock(%s)", [key])
            try:
                super().create_table()
            finally:
                connection.execute("SELECT pg_advisory_unlock(%s)", [key])

    def take_due_checkpoints(self) -> list[ChainHead]:
        """Return (and forget) the heads past which a save took the chain to a checkpoint."""
        with self._due_lock:
            due, self._due = self._due, []
        return due

    def chain_reader(self) -> ChainReader:
        """Return a reader of this log's audit chain (verify, export) on the same database."""
        return ChainReader(
            make_conninfo(**self._connect_kwargs()), self.datastore.schema, self.events_table_name
        )

    def writer_turns(self) -> AdvisoryWriterTurns:
        """Return the turns of an account's writers among all processes on this schema."""
        return AdvisoryWriterTurns(self._connect_kwargs(), self.datastore.schema)

    def _connect_kwargs(self) -> dict[str, Any]:
        kwargs = self.datastore.pool.kwargs or {}
        return {
            k: kwargs[k] for k in ("dbname", "host", "port", "user", "password") if kwargs.get(k)
        }

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def chain_status(self) -> ChainStatus:
        """Return the audit chain's head beside the log's newest position and event count."""
        schema = Identifier(self.datastore.schema)
        statement = status_statement(
            SQL("{}.{}").format(schema, Identifier(self.events_table_name)),
            SQL("{}.{}").format(schema, Identifier(chain_table_name(self.events_table_name))),
        )
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement)
            row = curs.fetchone()
            assert row is not None
            return chain_status_of(tuple(row.values()))

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def select_run_progress(self, run_id: str) -> RunProgress | None:
        """Return a trading run's last recorded progress, or None before its first candle."""
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            return self.run_progress.read(curs, run_id)

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """Insert the events, the tracking row and a run's progress, if any, in one transaction."""
        progress: RunProgress | None = kwargs.pop(RUN_PROGRESS_KWARG, None)
        with (
            self.datastore.get_connection() as conn,
            conn.transaction(),
            conn.cursor() as curs,
        ):
            self._insert_events(curs, stored_events, **kwargs)  # the tracking row, if any
            if progress is not None:
                self.run_progress.write(curs, progress)
            if not stored_events:
                return None
            lock_and_notify = [
                *self.lock_table_statements,
                SQL("NOTIFY {0}").format(Identifier(self.channel_name)),
            ]
            head, log_max, ids = self.chain.begin(curs, lock_and_notify, len(stored_events))
            if head.count == 0 and log_max > 0:
                # A log from before the chain. Events written around the ledger after the
                # chain's head are never chained: they stay visible to `ledger audit verify`.
                head = self.chain.chain_backlog(curs, head, log_max)
            records = [
                ChainRecord(p, e.originator_id, e.originator_version, e.topic, e.state)
                for p, e in zip(ids, stored_events, strict=True)
            ]
            new_head = self.chain.insert(curs, head, records)
            if new_head.count // self.checkpoint_every > head.count // self.checkpoint_every:
                with self._due_lock:
                    self._due.append(new_head)
            return ids


def table_setup_lock_key(schema: str, events_table_name: str) -> int:
    """Return the advisory-lock key under which the log's tables are created in `schema`."""
    return advisory_key(f"tables {schema} {events_table_name}")


RECORDER_TOPIC = get_topic(LedgerProcessRecorder)
