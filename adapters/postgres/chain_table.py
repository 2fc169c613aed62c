"""The audit chain's table beside the event log: one row per save, its events' links in log order.

`<name>_chain_saves` (`ledger_chain_saves` for `ledger_events`): position (the save's last
event's notification id), count (the chain's count at that event; 1 for the log's first event),
the chain format its links were made in (`domain/audit/canonical.py`; rows from before the
column are format 2), and, an element per event in log order, the chained events' positions,
identities (originator id, version, bus name: for naming what was changed, not for proof) and
links. The view
`<name>_chain_links` shows it an event a row (position, count, identity, link, save row's
position), for people, ad hoc queries and `chain_reader.py`'s look-ups. The recorder writes a
save's row in the save's own transaction (`recorder.py`); `chain_reader.py` reads them.

One row a save, not an event: the events' INSERT and the row share their arrays (positions,
originator ids, versions, bus names go once), and PostgreSQL writes one heap row and one index
entry a save; at two events a save that was about 90 µs less than a row an event.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Composable, Composed, Identifier, Literal

from domain.audit.canonical import CHAIN_FORMAT, canonical_audit_json_and_body
from domain.audit.checkpoint import ChainHead
from domain.audit.link import GENESIS_LINK, chain_link

BACKLOG_PAGE = 5000


def chain_table_name(events_table_name: str) -> str:
    """Return the chain's table for an event table (`ledger_events` -> `ledger_chain_saves`)."""
    return events_table_name.removesuffix("_events") + "_chain_saves"


def chain_view_name(events_table_name: str) -> str:
    """Return the chain's view, an event a row (`ledger_events` -> `ledger_chain_links`)."""
    return events_table_name.removesuffix("_events") + "_chain_links"


def create_chain_table(schema: str, events_table_name: str) -> list[Composed]:
    """Return the statements that create the chain's table and view when they do not exist.

    The view's `save_position` (its save row's `position`) lets a query on the view pick its
    rows by the table's primary key.

    The arrays are stored out of line uncompressed (EXTERNAL): links and ids do not compress,
    and trying costs a large save's row more than it saves. `format` is added to a table from
    before it with the default 2 (the format its rows were made in), which is then dropped: a
    new row always names its format.
    """
    table = chain_table_name(events_table_name)
    view = chain_view_name(events_table_name)
    names = {
        "schema": Identifier(schema),
        "table": Identifier(table),
        "view": Identifier(view),
        "table_name": Literal(_qualified(schema, table)),
        "view_name": Literal(_qualified(schema, view)),
    }
    # One block that changes the catalog only where it differs: the ledger's log is opened by
    # every process that starts, and two processes re-running an ALTER TABLE or a CREATE OR
    # REPLACE VIEW at once fail with "tuple concurrently updated" (issue 18 #8).
    return [
        SQL(
            "CREATE TABLE IF NOT EXISTS {schema}.{table} ("
            "position bigint PRIMARY KEY, "
            "count bigint NOT NULL, "
            "positions bigint[] NOT NULL, "
            "originator_ids uuid[] NOT NULL, "
            "originator_versions bigint[] NOT NULL, "
            "topics text[] NOT NULL, "
            "links bytea[] NOT NULL)"
        ).format(**names),
        SQL(
            "DO $chain$ BEGIN "
            "IF EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = {table_name}::regclass "
            "AND attname IN ('positions', 'originator_ids', 'originator_versions', 'topics', "
            "'links') AND attstorage <> 'e') THEN "
            "ALTER TABLE {schema}.{table} "
            "ALTER COLUMN positions SET STORAGE EXTERNAL, "
            "ALTER COLUMN originator_ids SET STORAGE EXTERNAL, "
            "ALTER COLUMN originator_versions SET STORAGE EXTERNAL, "
            "ALTER COLUMN topics SET STORAGE EXTERNAL, "
            "ALTER COLUMN links SET STORAGE EXTERNAL; "
            "END IF; "
            "IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = {table_name}::regclass "
            "AND attname = 'format' AND NOT attisdropped) THEN "
            "ALTER TABLE {schema}.{table} ADD COLUMN format smallint NOT NULL DEFAULT 2; "
            "ALTER TABLE {schema}.{table} ALTER COLUMN format DROP DEFAULT; "
            "END IF; "
            "IF to_regclass({view_name}) IS NULL OR NOT EXISTS (SELECT 1 FROM pg_attribute "
            "WHERE attrelid = to_regclass({view_name}) AND attname = 'format') THEN "
            "CREATE OR REPLACE VIEW {schema}.{view} AS "
            "SELECT e.position, s.count - cardinality(s.positions) + e.ordinality AS count, "
            "e.originator_id, e.originator_version, e.topic, encode(e.link, 'hex') AS link, "
            "s.position AS save_position, s.format "
            "FROM {schema}.{table} AS s CROSS JOIN LATERAL unnest(s.positions, "
            "s.originator_ids, s.originator_versions, s.topics, s.links) WITH ORDINALITY "
            "AS e(position, originator_id, originator_version, topic, link, ordinality); "
            "END IF; "
            "END $chain$"
        ).format(**names),
    ]


def _qualified(schema: str, name: str) -> str:
    return f"{Identifier(schema).as_string(None)}.{Identifier(name).as_string(None)}"


class ChainRecord(NamedTuple):
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
    the save's chain row together.
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
            "c.position, c.count, encode(c.links[cardinality(c.links)], 'hex') AS link, "
            "ARRAY(SELECT nextval({sequence}) FROM generate_series(1, %s)) AS ids "
            "FROM (SELECT 1) AS one LEFT JOIN LATERAL "
            "(SELECT position, count, links FROM {schema}.{chain} ORDER BY position DESC LIMIT 1) "
            "AS c ON true"
        ).format(schema=schema_id, events=events, chain=chain, sequence=self.sequence)
        self.backlog_statement = SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state "
            "FROM {schema}.{events} WHERE notification_id > %s AND notification_id <= %s "
            "ORDER BY notification_id LIMIT %s"
        ).format(schema=schema_id, events=events)
        self.chain_row = SQL(
            "INSERT INTO {schema}.{chain} (position, count, format, positions, originator_ids, "
            "originator_versions, topics, links) VALUES (%(position)s, %(count)s, "
            "%(format)s::smallint, "
            "%(positions)s::bigint[], %(ids)s::uuid[], %(versions)s::bigint[], "
            "%(topics)s::text[], %(links)s::bytea[])"
        ).format(schema=schema_id, chain=chain)
        # The row and the events share their arrays: a name repeated is one parameter.
        self.events_and_chain_row = SQL(
            "WITH chained AS ({chain_row}) "
            "INSERT INTO {schema}.{events} "
            "(notification_id, originator_id, originator_version, topic, state) "
            "SELECT * FROM unnest(%(positions)s::bigint[], %(ids)s::uuid[], "
            "%(versions)s::bigint[], %(topics)s::text[], %(states)s::bytea[])"
        ).format(chain_row=self.chain_row, schema=schema_id, events=events)

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
            new_head, params = self.row_params(head, records)
            curs.execute(self.chain_row, params, prepare=True, binary=True)
            head = new_head
        return head

    def insert(
        self, curs: Cursor[DictRow], head: ChainHead, records: Sequence[ChainRecord]
    ) -> ChainHead:
        """Insert `records` (in position order) into the log, and their links after `head`."""
        new_head, params = self.row_params(head, records)
        params["states"] = [r.state for r in records]
        # binary: bytea arrays go as bytes, not escaped text
        curs.execute(self.events_and_chain_row, params, prepare=True, binary=True)
        return new_head

    @classmethod
    def row_params(
        cls, head: ChainHead, records: Sequence[ChainRecord]
    ) -> tuple[ChainHead, dict[str, Any]]:
        """Return the head after `records` (at least one) and their chain row's parameters."""
        new_head, links = cls.links(head, records)
        return new_head, {
            "position": new_head.position,
            "count": new_head.count,
            "format": CHAIN_FORMAT,
            "positions": [r.position for r in records],
            "ids": [r.originator_id for r in records],
            "versions": [r.originator_version for r in records],
            "topics": [r.topic for r in records],
            "links": [bytes.fromhex(link) for link in links],
        }

    @staticmethod
    def links(head: ChainHead, records: Sequence[ChainRecord]) -> tuple[ChainHead, list[str]]:
        """Return the head after `records` and their links, in order."""
        if not records:
            return head, []
        link, links = head.link, []
        body: dict[str, Any] = {}
        for r in records:
            canonical, body = canonical_audit_json_and_body(
                r.position, r.topic, r.originator_id, r.originator_version, r.state
            )
            link = chain_link(link, canonical)
            links.append(link)
        occurred_at = body.get("occurred_at")  # the last record's, as stored
        new_head = ChainHead(
            records[-1].position,
            link,
            head.count + len(records),
            datetime.fromisoformat(occurred_at) if isinstance(occurred_at, str) else None,
        )
        return new_head, links
