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
from uuid import UUID

from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Composed, Identifier

from domain.audit.canonical import canonical_audit_json, stored_fields
from domain.audit.checkpoint import ChainHead
from domain.audit.link import GENESIS_LINK, chain_link

BACKLOG_PAGE = 5000


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
    """Extends the chain in the transaction that inserts events (under the log's table lock)."""

    def __init__(self, schema: str, events_table_name: str) -> None:
        schema_id = Identifier(schema)
        events = Identifier(events_table_name)
        chain = Identifier(chain_table_name(events_table_name))
        self.head_statement = SQL(
            "SELECT (SELECT max(notification_id) FROM {schema}.{events}) AS log_max, "
            "c.position, c.count, c.link FROM (SELECT 1) AS one LEFT JOIN LATERAL "
            "(SELECT position, count, link FROM {schema}.{chain} ORDER BY position DESC LIMIT 1) "
            "AS c ON true"
        ).format(schema=schema_id, events=events, chain=chain)
        self.backlog_statement = SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state "
            "FROM {schema}.{events} WHERE notification_id > %s AND notification_id <= %s "
            "ORDER BY notification_id LIMIT %s"
        ).format(schema=schema_id, events=events)
        self.insert_statement = SQL(
            "INSERT INTO {schema}.{chain} "
            "(position, count, originator_id, originator_version, topic, link) "
            "SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::uuid[], %s::bigint[], "
            "%s::text[], %s::text[])"
        ).format(schema=schema_id, chain=chain)

    def read_head(self, curs: Cursor[DictRow]) -> tuple[ChainHead, int]:
        """Return the chain's head and the log's newest position (call under the table lock)."""
        curs.execute(self.head_statement, prepare=True)
        row = curs.fetchone()
        assert row is not None
        log_max = int(row["log_max"] or 0)
        if row["position"] is None:
            return ChainHead(0, GENESIS_LINK, 0), log_max
        return ChainHead(int(row["position"]), str(row["link"]), int(row["count"])), log_max

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
            head = self.extend(curs, head, records)
        return head

    def extend(
        self, curs: Cursor[DictRow], head: ChainHead, records: Sequence[ChainRecord]
    ) -> ChainHead:
        """Write the links of `records` (in position order) after `head`; return the new head."""
        link, count = head.link, head.count
        positions, counts, ids, versions, topics, links = [], [], [], [], [], []
        for r in records:
            canonical = canonical_audit_json(
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
        if not records:
            return head
        curs.execute(
            self.insert_statement, (positions, counts, ids, versions, topics, links), prepare=True
        )
        last = records[-1]
        occurred_at = stored_fields(last.state).get("occurred_at")
        return ChainHead(
            last.position,
            link,
            count,
            datetime.fromisoformat(occurred_at) if isinstance(occurred_at, str) else None,
        )
