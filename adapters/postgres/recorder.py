"""The event log's recorder: the library's PostgreSQL process recorder, two changes.

The library sends LOCK, NOTIFY and the INSERT of a save in libpq pipeline mode. With large
saves (about 1 MB of events: 500 orders in one `place_orders`) that deadlocked here: the server
waited for the rest of the INSERT while the client waited for results (seen over the Unix
socket at 1,000 events per save, over TCP at 10,000; psycopg 3.3.9, eventsourcing 9.5.6).
Sending the same statements one after the other in one transaction costs two more round trips
and cannot deadlock.

The INSERT passes four plain arrays (ids, versions, topics, states) instead of one array of a
composite type: psycopg then sends the bytes as bytea without escaping every event's state
through a regular expression, which took a third of a 30 MB bulk import. Everything else (table
lock, NOTIFY, commit order, tracking) is the library's.

It also keeps the audit chain (docs/audit.md): under the table lock, in the same transaction,
it reads the chain's head, links the inserted events after it and writes their rows to
`ledger_chain`, so no event is ever recorded unchained, skipped or chained out of order. A log
that holds events from before the chain has them chained first, in the next save. When a save
takes the chain past a multiple of `checkpoint_every`, the head is handed to the application
(`take_due_checkpoints`), which records it as an `audit.chain.checkpointed` event.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import (
    InterfaceError,
    OperationalError,
    ProgrammingError,
    StoredEvent,
)
from eventsourcing.postgres import PostgresDatastore, PostgresProcessRecorder
from eventsourcing.utils import get_topic, retry
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Identifier

from adapters.postgres.chain_reader import ChainStatus, chain_status_of, status_statement
from adapters.postgres.chain_table import (
    ChainRecord,
    ChainWriter,
    chain_table_name,
    create_chain_table,
)
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
        self.sql_create_statements.append(create_chain_table(datastore.schema, events_table_name))
        self.chain = ChainWriter(datastore.schema, events_table_name)
        self.checkpoint_every = DEFAULT_CHECKPOINT_EVERY
        self._due: list[ChainHead] = []
        self._due_lock = threading.Lock()

    def take_due_checkpoints(self) -> list[ChainHead]:
        """Return (and forget) the heads past which a save took the chain to a checkpoint."""
        with self._due_lock:
            due, self._due = self._due, []
        return due

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
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        with (
            self.datastore.get_connection() as conn,
            conn.transaction(),
            conn.cursor() as curs,
        ):
            self._insert_events(curs, stored_events, **kwargs)  # the tracking row, if any
            if not stored_events:
                return None
            self._lock_table(curs)
            head, log_max = self.chain.read_head(curs)
            self._insert_stored_events(curs, stored_events, **kwargs)  # notify, insert
            rows = curs.fetchall()
            if len(rows) != len(stored_events):
                raise ProgrammingError(
                    f"{len(rows)} notification ids came back for {len(stored_events)} events"
                )
            if head.position < log_max:
                head = self.chain.chain_backlog(curs, head, log_max)
            by_identity = {(str(e.originator_id), e.originator_version): e for e in stored_events}
            records = []
            for row in sorted(rows, key=lambda r: int(r["notification_id"])):
                event = by_identity[(str(row["originator_id"]), int(row["originator_version"]))]
                records.append(
                    ChainRecord(
                        int(row["notification_id"]),
                        row["originator_id"],
                        event.originator_version,
                        event.topic,
                        event.state,
                    )
                )
            new_head = self.chain.extend(curs, head, records)
            if new_head.count // self.checkpoint_every > head.count // self.checkpoint_every:
                with self._due_lock:
                    self._due.append(new_head)
            at = {(str(r.originator_id), r.originator_version): r.position for r in records}
            return [at[(str(e.originator_id), e.originator_version)] for e in stored_events]

    def _insert_stored_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        self._notify_channel(curs)
        statement = SQL(
            "INSERT INTO {schema}.{table} (originator_id, originator_version, topic, state) "
            "SELECT * FROM unnest(%s::uuid[], %s::bigint[], %s::text[], %s::bytea[]) "
            "RETURNING notification_id, originator_id, originator_version"
        ).format(schema=Identifier(self.datastore.schema), table=Identifier(self.events_table_name))
        curs.execute(
            statement,
            (
                [e.originator_id for e in stored_events],
                [e.originator_version for e in stored_events],
                [e.topic for e in stored_events],
                [e.state for e in stored_events],
            ),
            binary=True,  # bytea arrays go as bytes, not escaped text
        )


RECORDER_TOPIC = get_topic(LedgerProcessRecorder)
