"""Read the audit chain: its head beside the log's, and the whole walk of `ledger audit verify`.

Verification reads the events and the chain rows in one REPEATABLE READ, read-only transaction
(a consistent snapshot while writers go on), through two server-side cursors in position order,
and feeds them to the pure walk (`domain/audit/verification.py`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import IsolationLevel
from psycopg.sql import SQL, Composable, Composed, Identifier

from adapters.postgres.chain_table import chain_table_name, chain_view_name
from adapters.postgres.snapshot_audit import SnapshotAlteredError, SnapshotAudit, SnapshotCheck
from adapters.postgres.unchained_fields import unchained_edit
from domain.audit.canonical import (
    CHAIN_FORMAT,
    LEFT_OUT_FIELDS_BY_FORMAT,
    canonical_audit_json_and_body,
    canonical_dumps,
)
from domain.audit.checkpoint import ChainHead
from domain.audit.link import GENESIS_LINK, link_after
from domain.audit.verification import (
    CHECKPOINT_TOPIC,
    ChainBreak,
    ChainRow,
    ChainWalk,
    LoggedEvent,
    Step,
)

FETCH = 5000


class ChainNotFollowedError(Exception):
    """The chain does not go on as expected from a head (an export's seal cannot be read)."""


class _Reached(Exception):
    """The walk reached the event it was looking for (ends `chained_through` early)."""


@dataclass(frozen=True)
class ChainStatus:
    """The chain's head and the log's: how far the chain reaches."""

    position: int
    link: str
    count: int
    log_position: int
    log_count: int

    @property
    def is_caught_up(self) -> bool:
        """Return True when the chain holds every event of the log."""
        return self.position == self.log_position and self.count == self.log_count

    def as_dict(self) -> dict[str, Any]:
        """Return the status as plain values (for JSON)."""
        return {
            "position": self.position,
            "link": self.link,
            "count": self.count,
            "log_position": self.log_position,
            "log_count": self.log_count,
            "is_caught_up": self.is_caught_up,
        }


@dataclass(frozen=True)
class ChainVerification:
    """The outcome of recomputing the chain: the first break, or the verified head."""

    start_position: int
    position: int
    link: str
    count: int
    events_checked: int
    checkpoints_checked: int
    seconds: float
    chain_break: ChainBreak | None
    snapshots_checked: int | None = None
    """Snapshots found equal to their aggregates rebuilt from the chained events (None: not
    checked)."""
    snapshots_unchecked: int = 0
    """Snapshots of aggregates created before `--from`'s position (not rebuilt)."""
    snapshots_superseded: int = 0
    """Older snapshots of an aggregate, which loading never uses (checked only when asked)."""

    @property
    def is_intact(self) -> bool:
        """Return True when every event matched its link and every snapshot checked matched."""
        return self.chain_break is None

    def as_dict(self) -> dict[str, Any]:
        """Return the outcome as plain values (for JSON)."""
        return {
            "intact": self.is_intact,
            "from_position": self.start_position,
            "head": {"position": self.position, "link": self.link, "count": self.count},
            "events_checked": self.events_checked,
            "checkpoints_checked": self.checkpoints_checked,
            "snapshots_checked": self.snapshots_checked,
            "snapshots_unchecked": self.snapshots_unchecked,
            "snapshots_superseded": self.snapshots_superseded,
            "seconds": round(self.seconds, 3),
            "first_break": None if self.chain_break is None else self.chain_break.as_dict(),
        }


def status_statement(events: Composable, chain: Composable) -> Composed:
    """Return the query of the log's newest position and count, and the chain's head."""
    return SQL(
        "SELECT (SELECT max(notification_id) FROM {events}) AS log_position, "
        "(SELECT count(*) FROM {events}) AS log_count, c.position, "
        "encode(c.links[cardinality(c.links)], 'hex'), c.count "
        "FROM (SELECT 1) AS one LEFT JOIN LATERAL (SELECT position, links, count FROM "
        "{chain} ORDER BY position DESC LIMIT 1) AS c ON true"
    ).format(events=events, chain=chain)


def chain_status_of(row: tuple[Any, ...]) -> ChainStatus:
    """Return the status from a row of `status_statement`."""
    log_position, log_count, position, link, count = row
    return ChainStatus(
        int(position or 0),
        str(link or GENESIS_LINK),
        int(count or 0),
        int(log_position or 0),
        int(log_count or 0),
    )


class ChainReader:
    """The audit chain of the event table `events_table_name` in `schema`."""

    def __init__(
        self,
        conninfo: str,
        schema: str,
        events_table_name: str = "ledger_events",
        *,
        snapshots: SnapshotAudit | None = None,
    ):
        self.conninfo = conninfo
        self.schema = schema
        self.snapshots = snapshots
        """How `verify` checks the log's snapshots (None: it does not)."""
        self.events = SQL("{}.{}").format(Identifier(schema), Identifier(events_table_name))
        self.chain = SQL("{}.{}").format(
            Identifier(schema), Identifier(chain_table_name(events_table_name))
        )
        self.links = SQL("{}.{}").format(
            Identifier(schema), Identifier(chain_view_name(events_table_name))
        )

    def status(self) -> ChainStatus:
        """Return the chain's head beside the log's newest position and event count."""
        with psycopg.connect(self.conninfo) as conn:
            conn.read_only = True
            return self._status(conn)

    def _status(self, conn: psycopg.Connection[Any]) -> ChainStatus:
        row = conn.execute(status_statement(self.events, self.chain)).fetchone()
        assert row is not None
        return chain_status_of(tuple(row))

    def verify(
        self,
        *,
        from_position: int | None = None,
        on_progress: Callable[[int, int], None] | None = None,
        on_chained: Callable[[LoggedEvent, str, str, int], None] | None = None,
        on_snapshot: Callable[[ChainStatus], None] | None = None,
        check_snapshots: bool = True,
        every_snapshot: bool = False,
    ) -> ChainVerification:
        """Recompute the chain from the log (from `from_position`) and compare it with the table.

        From a position, the chain's stored link before it is taken as given (only a full run
        proves the chain from its genesis). `on_progress(position, log_position)` is called
        every few thousand events; `on_chained(event, digest, link, count)` with every event that
        matched its link (an export's writer); `on_snapshot(status)` first, with the snapshot's
        heads. With `check_snapshots` and a reader given `snapshots`, every aggregate that has a
        snapshot is rebuilt from its chained events as the walk proves them, and its newest
        snapshot (with `every_snapshot`, each one) that would load otherwise is the break
        (`snapshot_audit.py`).
        """
        started = time.perf_counter()
        with psycopg.connect(self.conninfo) as conn:
            conn.isolation_level = IsolationLevel.REPEATABLE_READ
            conn.read_only = True
            with conn.transaction():
                status = self._status(conn)
                if on_snapshot is not None:
                    on_snapshot(status)
                walk = self._start(conn, from_position or 0)
                check = None
                if check_snapshots and self.snapshots is not None:
                    check = self.snapshots.start(conn, self.schema, every=every_snapshot)
                walk.on_chained = _also_checking(on_chained, check)
                start, start_count = walk.position, walk.count
                steps = self._steps(conn, start, status.log_position, on_progress)
                try:
                    found = walk.run(steps)
                except SnapshotAlteredError as altered:
                    found = altered.found
                finally:
                    steps.close()  # closes the server-side cursors inside the transaction
                if found is None and check is not None:
                    found = check.finish(from_genesis=start == 0, head_position=walk.position)
        return ChainVerification(
            start,
            walk.position,
            walk.link,
            walk.count,
            walk.count - start_count,
            walk.checkpoints,
            time.perf_counter() - started,
            found,
            None if check is None else check.checked,
            0 if check is None else check.unchecked,
            0 if check is None else check.superseded,
        )

    def chained_through(
        self, head: ChainHead, originator_id: str
    ) -> list[tuple[LoggedEvent, str, str, int]]:
        """Return the events chained after `head` through the first of `originator_id`, verified.

        Each comes with its digest, link and count, as `verify`'s `on_chained` gives them; the
        first must follow from `head` (an export's head, read before this event was recorded).

        Raises:
            ChainNotFollowedError: an event up to it does not match its link, the chain does
                not go on from `head`, or the chain holds no event of `originator_id` after it.
        """
        found: list[tuple[LoggedEvent, str, str, int]] = []

        def collect(event: LoggedEvent, digest: str, link: str, count: int) -> None:
            if not found and link != link_after(head.link, digest):
                raise ChainNotFollowedError(
                    f"the chain after position {head.position} does not go on from its link"
                )
            found.append((event, digest, link, count))
            if event.originator_id == originator_id:
                raise _Reached

        try:
            outcome = self.verify(
                from_position=head.position + 1, on_chained=collect, check_snapshots=False
            )
        except _Reached:
            return found
        where = "" if outcome.chain_break is None else f": {outcome.chain_break.describe()}"
        raise ChainNotFollowedError(
            f"no event of {originator_id} is chained after position {head.position}{where}"
        )

    def _start(self, conn: psycopg.Connection[Any], from_position: int) -> ChainWalk:
        walk = ChainWalk(
            chained_at=lambda i, v: self._position_of(conn, self.links, "position", i, v),
            logged_at=lambda i, v: self._position_of(conn, self.events, "notification_id", i, v),
            stored_head_at=lambda p: self._stored_head(conn, p),
        )
        if from_position > 1:
            # The chain's last event before `from_position`: in the last save row wholly
            # before it, or in the row that reaches past it.
            row = conn.execute(
                SQL(
                    "SELECT position, link, count FROM {links} WHERE position < %(from)s "
                    "AND save_position BETWEEN COALESCE((SELECT max(position) FROM {chain} "
                    "WHERE position < %(from)s), 0) AND COALESCE((SELECT min(position) "
                    "FROM {chain} WHERE position >= %(from)s), 9223372036854775807) "
                    "ORDER BY position DESC LIMIT 1"
                ).format(links=self.links, chain=self.chain),
                {"from": from_position},
            ).fetchone()
            if row is not None:
                walk.position, walk.link, walk.count = int(row[0]), str(row[1]), int(row[2])
        return walk

    @staticmethod
    def _position_of(
        conn: psycopg.Connection[Any], table: Any, column: str, originator_id: str, version: int
    ) -> int | None:
        row = conn.execute(
            SQL(
                "SELECT {column} FROM {table} WHERE originator_id = %s AND originator_version = %s"
            ).format(column=Identifier(column), table=table),
            (originator_id, version),
        ).fetchone()
        return None if row is None else int(row[0])

    def _stored_head(self, conn: psycopg.Connection[Any], position: int) -> tuple[str, int] | None:
        # The save row holding `position` is the first whose (last) position reaches it.
        row = conn.execute(
            SQL(
                "SELECT link, count FROM {links} WHERE position = %s AND save_position = "
                "(SELECT min(position) FROM {chain} WHERE position >= %s)"
            ).format(links=self.links, chain=self.chain),
            (position, position),
        ).fetchone()
        return None if row is None else (str(row[0]), int(row[1]))

    def _steps(
        self,
        conn: psycopg.Connection[Any],
        after: int,
        log_position: int,
        on_progress: Callable[[int, int], None] | None,
    ) -> Generator[Step, None, None]:
        # An event is rendered in the chain format of its row; one without a row (inserted,
        # or its row deleted) in that of the last row before it.
        events = self._events(conn, after)
        rows = self._rows(conn, after)
        stored, row = next(events, None), next(rows, None)
        chain_format = CHAIN_FORMAT
        n = 0
        while stored is not None or row is not None:
            if row is None or (stored is not None and stored[0] < row.position):
                assert stored is not None
                yield Step(stored[0], _logged(stored, chain_format), None)
                stored = next(events, None)
            elif stored is None or row.position < stored[0]:
                yield Step(row.position, None, row)
                row = next(rows, None)
            else:
                if row.chain_format in LEFT_OUT_FIELDS_BY_FORMAT:
                    chain_format = row.chain_format  # else the walk names the row as altered
                yield Step(stored[0], _logged(stored, chain_format), row)
                stored, row = next(events, None), next(rows, None)
            n += 1
            if on_progress is not None and n % FETCH == 0:
                on_progress(n, log_position)

    def _events(self, conn: psycopg.Connection[Any], after: int) -> Iterator[tuple[Any, ...]]:
        with conn.cursor(name="audit_events") as cursor:
            cursor.itersize = FETCH
            cursor.execute(
                SQL(
                    "SELECT notification_id, topic, originator_id::text, originator_version, "
                    "state FROM {events} WHERE notification_id > %s ORDER BY notification_id"
                ).format(events=self.events),
                (after,),
            )
            yield from cursor

    def _rows(self, conn: psycopg.Connection[Any], after: int) -> Iterator[ChainRow]:
        # Save rows in position order, their events in array order: no sort on the server.
        with conn.cursor(name="audit_chain") as cursor:
            cursor.itersize = max(FETCH // 50, 10)
            cursor.execute(
                SQL(
                    "SELECT count, positions, topics, originator_ids::text[], "
                    "originator_versions, links, format FROM {chain} WHERE position > %s "
                    "ORDER BY position"
                ).format(chain=self.chain),
                (after,),
            )
            for count, positions, topics, originator_ids, versions, links, fmt in cursor:
                first = count - len(positions)
                for k, position in enumerate(positions):
                    if position > after:
                        yield ChainRow(
                            position,
                            first + k + 1,
                            topics[k],
                            originator_ids[k],
                            versions[k],
                            links[k].hex(),
                            fmt,
                        )


def _also_checking(
    on_chained: Callable[[LoggedEvent, str, str, int], None] | None, check: SnapshotCheck | None
) -> Callable[[LoggedEvent, str, str, int], None] | None:
    """Return the walk's callback for a proven event: the caller's, then the snapshots'."""
    if check is None:
        return on_chained
    if on_chained is None:
        return lambda event, _digest, _link, _count: check.chained(event)

    def both(event: LoggedEvent, digest: str, link: str, count: int) -> None:
        on_chained(event, digest, link, count)
        check.chained(event)

    return both


def _logged(stored: tuple[Any, ...], chain_format: int) -> LoggedEvent:
    """Return the event of a log row (position, topic, id, version, state) in `chain_format`.

    An event of a format that leaves fields out is rendered whole first, so the fields its link
    does not bind are checked against those it does (`unchained_fields.py`).
    """
    position, topic, originator_id, version, state = stored
    canonical, fields = canonical_audit_json_and_body(
        position, topic, originator_id, version, state
    )
    found = None
    left_out = LEFT_OUT_FIELDS_BY_FORMAT[chain_format]
    if left_out:
        found = unchained_edit(topic, fields)
        for name in left_out:
            fields.pop(name, None)
        canonical = canonical_dumps(fields)
    checkpoint = None
    if topic == CHECKPOINT_TOPIC:
        checkpoint = (
            int(fields["head_position"]),
            str(fields["head_link"]),
            int(fields["head_count"]),
        )
    return LoggedEvent(
        position, topic, originator_id, version, canonical, checkpoint, fields, found, state
    )
