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
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresProcessRecorder
from eventsourcing.utils import get_topic, retry
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Identifier


class LedgerProcessRecorder(PostgresProcessRecorder):
    """Insert each save's events (and tracking) in one transaction, without pipelining."""

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
            self._insert_stored_events(curs, stored_events, **kwargs)  # lock, notify, insert
            return self._fetch_ids_after_insert_events(curs, stored_events, **kwargs)

    def _insert_stored_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        self._lock_table(curs)
        self._notify_channel(curs)
        statement = SQL(
            "INSERT INTO {schema}.{table} (originator_id, originator_version, topic, state) "
            "SELECT * FROM unnest(%s::uuid[], %s::bigint[], %s::text[], %s::bytea[]) "
            "RETURNING notification_id"
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
