"""The audit chain's table beside the event log: one row per event, its link, in log order.

`<name>_chain` (`ledger_chain` for `ledger_events`): position (the event's notification id),
count (1 for the log's first event), the chained event's identity (originator id, version,
bus name: for naming what was changed, not for proof) and its link. The recorder writes the
rows of a save in the save's own transaction (`recorder.py`); `chain_reader.py` reads them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Composable, Composed, Identifier, Literal

from domain.audit.canonical import canonical_audit_json_and_body
from domain.audit.checkpoint import ChainHead
from domain.audit.link import GENESIS_LINK, chain_link

BACKLOG_PAGE = 5000
COPY_FROM = 64
"""From this many events a save's chain rows go by binary COPY, which PostgreSQL inserts in
batches (one round trip more, about 9 µs an event less); a smaller save's chain rows ride on
the events' INSERT."""


def chain_table_name(events_table_name: str) -> str:
    """Return the chain table's name for an event table (`ledger_events` -> `ledger_chain`)."""
    return events_table_name.removesuffix("_events") + "_chain"


def create_chain_table(schema: str, events_table_name: str) -> Composed:
    """Return the statement that creates the chain table when it does not exist."""
    return SQL(
        "CREATE TABLE IF NOT EXISTS {schema}.{table} ("
        "position bigint PRIMARY KEY, "
        "count bigint NOT NULL, "
        "originator_id uuid NOT NULL, "
        "originator_version bigint NOT NULL, "
        "topic text NOT NULL, "
        "link text NOT NULL)"
    ).format(schema=Identifier(schema), table=Identifier(chain_table_name(events_table_name)))


@dataclass(frozen=True)
class ChainRecord:
    """A stored event to chain: its position and row (the recorder's view of it)."""

    position: int
    originator_id: UUID
    originator_version: int
    topic: str
    state: bytes


class ChainWriter:
    """Extends the chain in the transaction that inserts events (under the log's table lock).

    A save costs three round trips: the table lock and the NOTIFY; one prepared statement that
    reads the chain's head and draws the new events' notification ids from the table's sequence
    (as the column default would, under the same lock); and one that inserts the events and
    their chain rows together (from `COPY_FROM` events, the INSERT and then a COPY).
    """

    def __init__(self, schema: str, events_table_name: str) -> None:
        schema_id = Identifier(schema)
        events = Identifier(events_table_name)
        chain = Identifier(chain_table_name(events_table_name))
        self.sequence = SQL(
            "pg_get_serial_sequence(quote_ident({schema}) || '.' || quote_ident({table}), "
            "'notification_id')"
        ).format(schema=Literal(schema), table=Literal(events_table_name))
        self.schema_id, self.events, self.chain = schema_id, events, chain
        self.head_statement = SQL(
            "SELECT (SELECT max(notification_id) FROM {schema}.{events}) AS log_max, "
            "c.position, c.count, c.link, "
            "ARRAY(SELECT nextval({sequence}) FROM generate_series(1, %s)) AS ids "
            "FROM (SELECT 1) AS one LEFT JOIN LATERAL "
            "(SELECT position, count, link FROM {schema}.{chain} ORDER BY position DESC LIMIT 1) "
            "AS c ON true"
        ).format(schema=schema_id, events=events, chain=chain, sequence=self.sequence)
        self.backlog_statement = SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state "
            "FROM {schema}.{events} WHERE notification_id > %s AND notification_id <= %s "
            "ORDER BY notification_id LIMIT %s"
        ).format(schema=schema_id, events=events)
        self.chain_rows = SQL(
            "INSERT INTO {schema}.{chain} "
            "(position, count, originator_id, originator_version, topic, link) "
            "SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::uuid[], %s::bigint[], "
            "%s::text[], %s::text[])"
        ).format(schema=schema_id, chain=chain)
        self.events_only = SQL(
            "INSERT INTO {schema}.{events} "
            "(notification_id, originator_id, originator_version, topic, state) "
            "SELECT * FROM unnest(%s::bigint[], %s::uuid[], %s::bigint[], %s::text[], "
            "%s::bytea[])"
        ).format(schema=schema_id, events=events)
        self.copy_chain_rows = SQL(
            "COPY {schema}.{chain} (position, count, originator_id, originator_version, topic, "
            "link) FROM STDIN (FORMAT BINARY)"
        ).format(schema=schema_id, chain=chain)
        self.events_and_chain_rows = SQL(
            "WITH chained AS ({chain_rows}) "
            "INSERT INTO {schema}.{events} "
            "(notification_id, originator_id, originator_version, topic, state) "
            "SELECT * FROM unnest(%s::bigint[], %s::uuid[], %s::bigint[], %s::text[], "
            "%s::bytea[])"
        ).format(chain_rows=self.chain_rows, schema=schema_id, events=events)

    def begin(
        self, curs: Cursor[DictRow], lock_and_notify: Sequence[Composable], count: int
    ) -> tuple[ChainHead, int, list[int]]:
        """Lock, notify, and return the chain's head, the log's newest position and `count` ids.

        Two round trips: the lock and the NOTIFY go together in one simple query, then the
        prepared head statement (planning its sub-queries on every save cost more than the
        round trip it saves).
        """
        curs.execute(SQL("; ").join(lock_and_notify))
        curs.execute(self.head_statement, (count,), prepare=True)
        row = curs.fetchone()
        assert row is not None
        ids = sorted(int(i) for i in row["ids"])
        log_max = int(row["log_max"] or 0)
        if row["position"] is None:
            return ChainHead(0, GENESIS_LINK, 0), log_max, ids
        return ChainHead(int(row["position"]), str(row["link"]), int(row["count"])), log_max, ids

    def chain_backlog(self, curs: Cursor[DictRow], head: ChainHead, upto: int) -> ChainHead:
        """Chain the log's events after `head` up to `upto` (a log from before the chain)."""
        while head.position < upto:
            curs.execute(self.backlog_statement, (head.position, upto, BACKLOG_PAGE))
            rows = curs.fetchall()
            if not rows:
                return head
            records = [
                ChainRecord(
                    int(r["notification_id"]),
                    r["originator_id"],
                    int(r["originator_version"]),
                    str(r["topic"]),
                    bytes(r["state"]),
                )
                for r in rows
            ]
            new_head, columns = self.links(head, records)
            curs.execute(self.chain_rows, columns, prepare=True)
            head = new_head
        return head

    def insert(
        self, curs: Cursor[DictRow], head: ChainHead, records: Sequence[ChainRecord]
    ) -> ChainHead:
        """Insert `records` (in position order) into the log with their links after `head`."""
        event_columns = (
            [r.position for r in records],
            [r.originator_id for r in records],
            [r.originator_version for r in records],
            [r.topic for r in records],
            [r.state for r in records],
        )
        if len(records) < COPY_FROM:
            new_head, columns = self.links(head, records)
            curs.execute(
                self.events_and_chain_rows,
                (*columns, *event_columns),
                prepare=True,
                binary=True,  # bytea arrays go as bytes, not escaped text
            )
            return new_head
        new_head, columns = self.links(head, records)
        curs.execute(self.events_only, event_columns, prepare=True, binary=True)
        with curs.copy(self.copy_chain_rows) as copy:
            copy.set_types(["bigint", "bigint", "uuid", "bigint", "text", "text"])
            for row in zip(*columns, strict=True):
                copy.write_row(row)
        return new_head

    @staticmethod
    def links(
        head: ChainHead, records: Sequence[ChainRecord]
    ) -> tuple[ChainHead, tuple[list[Any], ...]]:
        """Return the head after `records` and the chain rows' columns."""
        link, count = head.link, head.count
        positions, counts, ids, versions, topics, links = [], [], [], [], [], []
        body: dict[str, Any] = {}
        for r in records:
            canonical, body = canonical_audit_json_and_body(
                r.position, r.topic, r.originator_id, r.originator_version, r.state
            )
            link = chain_link(link, canonical)
            count += 1
            positions.append(r.position)
            counts.append(count)
            ids.append(r.originator_id)
            versions.append(r.originator_version)
            topics.append(r.topic)
            links.append(link)
        columns = (positions, counts, ids, versions, topics, links)
        if not records:
            return head, columns
        occurred_at = body.get("occurred_at")  # the last record's, as stored
        new_head = ChainHead(
            records[-1].position,
            link,
            count,
            datetime.fromisoformat(occurred_at) if isinstance(occurred_at, str) else None,
        )
        return new_head, columns
