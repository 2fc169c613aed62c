"""Snapshots checked against their aggregates rebuilt from the chained events alone.

A snapshot is a cache: loading an aggregate starts from its newest snapshot (at or below the
version asked for) and applies only the events after it, so an edited snapshot row changes
what loading produces without touching any chained event. `ledger audit verify` therefore
replays, as its walk proves each event, every aggregate that has a snapshot, and at the
version of its newest snapshot (the one loading uses: the ledger never loads an older
version) — or, with `every`, at each snapshot's version — compares the aggregate loading would
build from the snapshot (decoded and upcast by the application's mapper, as the repository
does) with the one its events build:
the class, and every attribute as the transcoder stores it (so `1.50` is not `1.5`), the
order of a mapping's keys aside. A snapshot loading would use that does not match is named,
as is one of an aggregate (or a version) the log does not hold.

Only the topics the ledger writes are resolved: the row's must be the library's `Snapshot`,
and the aggregate class it names must be in `domain`, so a stored string never makes verify
import anything else.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.application import Application
from eventsourcing.domain import Snapshot
from eventsourcing.persistence import Mapper, StoredEvent
from eventsourcing.utils import get_topic
from psycopg.sql import SQL, Identifier

from domain.audit.verification import BreakKind, ChainBreak, LoggedEvent

SNAPSHOT_TOPIC = get_topic(Snapshot)
DOMAIN_PACKAGE = "domain."
LEFT_OUT = frozenset({"_pending_events"})
"""Attributes a loaded aggregate sets afresh whatever the snapshot holds."""
SHOWN = 60
"""How many characters of a differing value a finding shows."""


class SnapshotAlteredError(Exception):
    """A snapshot differs from its aggregate rebuilt from its chained events (ends the walk)."""

    def __init__(self, found: ChainBreak) -> None:
        super().__init__(found.describe())
        self.found = found


@dataclass(frozen=True)
class StoredSnapshot:
    """A row of the snapshot table."""

    originator_id: str
    version: int
    topic: str
    state: bytes


@dataclass
class _Replay:
    originator_id: UUID
    aggregate: Any = None
    position: int = 0
    versions: list[int] = field(default_factory=list)
    """The versions of its snapshots not yet reached, in order."""


class SnapshotAudit:
    """How to check an application's snapshots: its mapper and its snapshot table's name."""

    def __init__(self, mapper: Mapper[UUID], table_name: str) -> None:
        self.mapper = mapper
        self.table_name = table_name

    @classmethod
    def of(cls, app: Application[UUID]) -> SnapshotAudit | None:
        """Return the check of `app`'s snapshots, or None when it keeps none."""
        if app.snapshots is None:
            return None
        table_name = getattr(app.snapshots.recorder, "events_table_name", None)
        if not isinstance(table_name, str):
            return None
        return cls(app.mapper, table_name)

    def start(
        self, conn: psycopg.Connection[Any], schema: str, *, every: bool = False
    ) -> SnapshotCheck:
        """Return a check of the snapshots `conn`'s transaction sees in `schema`.

        It checks the newest snapshot of each aggregate, or with `every` each one. An older
        snapshot is superseded: loading never uses it while a newer one exists (and deleting
        the newer one is harmless: the next verify checks the one loading then uses). Checking
        each one costs a comparison of the whole state at every snapshot's version.
        """
        table = Identifier(schema, self.table_name)
        exists = conn.execute(
            "SELECT to_regclass(%s) IS NOT NULL", (table.as_string(conn),)
        ).fetchone()
        if not (exists and exists[0]):
            return SnapshotCheck(
                self.mapper, {}, _no_snapshot
            )  # no table: loading replays every event
        # Only the keys are held; a snapshot's state is read when the walk reaches it (a
        # long log's snapshots of candle hours would not fit in memory).
        keys = conn.execute(
            SQL(
                "SELECT originator_id::text, originator_version FROM {table} "
                "ORDER BY originator_id, originator_version"
            ).format(table=table)
        ).fetchall()
        versions: dict[str, list[int]] = {}
        for originator_id, version in keys:
            versions.setdefault(originator_id, []).append(int(version))
        superseded = 0
        if not every:
            superseded = len(keys) - len(versions)
            versions = {i: held[-1:] for i, held in versions.items()}  # ordered: newest last
        statement = SQL(
            "SELECT topic, state FROM {table} WHERE originator_id = %s AND originator_version = %s"
        ).format(table=table)

        def read(originator_id: str, version: int) -> StoredSnapshot:
            row = conn.execute(statement, (originator_id, version), prepare=True).fetchone()
            assert row is not None  # the transaction's snapshot holds it
            return StoredSnapshot(originator_id, version, str(row[0]), bytes(row[1]))

        return SnapshotCheck(self.mapper, versions, read, superseded=superseded)


class SnapshotCheck:
    """One verify's check: replays the snapshotted aggregates as the walk proves their events."""

    def __init__(
        self,
        mapper: Mapper[UUID],
        versions: dict[str, list[int]],
        read: Callable[[str, int], StoredSnapshot],
        *,
        superseded: int = 0,
    ) -> None:
        self.mapper = mapper
        self.read = read
        self.replays = {i: _Replay(UUID(i), versions=v) for i, v in versions.items()}
        self.checked = 0
        self.unchecked = 0
        self.superseded = superseded
        """Older snapshots of an aggregate, not checked (loading uses only its newest)."""

    def chained(self, event: LoggedEvent) -> None:
        """Apply a proven event to its aggregate's replay; check the snapshots it reaches.

        Raises:
            SnapshotAlteredError: a snapshot reached differs from the replay.
        """
        replay = self.replays.get(event.originator_id)
        if replay is None:
            return
        version = event.originator_version
        if version != 1 and replay.aggregate is None:
            return  # created before the walk's start (verify --from): not rebuilt
        stored = StoredEvent(replay.originator_id, version, event.topic, event.state or b"")
        try:
            replay.aggregate = self.mapper.to_domain_event(stored).mutate(replay.aggregate)  # type: ignore[attr-defined]
        except Exception as error:  # noqa: BLE001 - named, not raised: the log does not load
            raise SnapshotAlteredError(
                ChainBreak(
                    event.position,
                    BreakKind.SNAPSHOT_ALTERED,
                    event.names(),
                    f"its aggregate cannot be rebuilt from its chained events to check its "
                    f"snapshots: {type(error).__name__}: {error}",
                )
            ) from None
        replay.position = event.position
        while replay.versions and replay.versions[0] <= version:
            snapshot = self.read(event.originator_id, replay.versions.pop(0))
            self.checked += 1
            found = self._differs(snapshot, replay.aggregate, version)
            if found is not None:
                raise SnapshotAlteredError(
                    ChainBreak(
                        event.position,
                        BreakKind.SNAPSHOT_ALTERED,
                        _named(snapshot.originator_id, snapshot.version),
                        found,
                    )
                )
        if not replay.versions:
            del self.replays[event.originator_id]

    def finish(self, *, from_genesis: bool, head_position: int) -> ChainBreak | None:
        """Return a snapshot loading could use that the walk never reached, once all are proven.

        Those of aggregates created before the walk's start (`--from`) are counted as unchecked.
        """
        for originator_id, replay in self.replays.items():
            if replay.aggregate is None and not from_genesis:
                self.unchecked += len(replay.versions)
                continue
            version = replay.versions[0]
            held = (
                "no event of this aggregate"
                if replay.aggregate is None
                else f"its events only to version {replay.aggregate.version}"
            )
            return ChainBreak(
                replay.position or head_position,
                BreakKind.SNAPSHOT_ALTERED,
                _named(originator_id, version),
                f"the snapshot table holds a snapshot of {originator_id} at version "
                f"{version}, and the log holds {held}: loading would use it "
                "(inserted, or its events deleted)",
            )
        return None

    def _differs(self, snapshot: StoredSnapshot, replayed: Any, version: int) -> str | None:
        if snapshot.version != version:
            return (
                f"the snapshot is at version {snapshot.version}, and the log holds no event "
                "of its aggregate at that version"
            )
        try:
            loaded = self._loaded(snapshot)
        except _UnreadableSnapshotError as error:
            return str(error)
        if type(loaded) is not type(replayed):
            return (
                f"it loads as a {type(loaded).__name__}, its {version} chained events "
                f"replay to a {type(replayed).__name__}"
            )
        stored, rebuilt = self._stored_form(loaded), self._stored_form(replayed)
        if stored == rebuilt:
            return None
        path, in_snapshot, in_events = _first_difference(stored, rebuilt)
        return (
            f"{path} is {_shown(in_snapshot)} in the snapshot loading uses at version "
            f"{version}, and {_shown(in_events)} in its {version} chained events replayed"
        )

    def _loaded(self, snapshot: StoredSnapshot) -> Any:
        if snapshot.topic != SNAPSHOT_TOPIC:
            raise _UnreadableSnapshotError(
                f"its row's topic {snapshot.topic!r} is not the snapshot class "
                f"{SNAPSHOT_TOPIC!r} the ledger writes"
            )
        stored = StoredEvent(
            UUID(snapshot.originator_id), snapshot.version, snapshot.topic, snapshot.state
        )
        try:
            decoded: Any = self.mapper.to_domain_event(stored)
        except Exception as error:  # noqa: BLE001 - an unreadable snapshot is a finding
            raise _UnreadableSnapshotError(f"it cannot be decoded: {error}") from None
        aggregate_topic = getattr(decoded, "topic", None)
        if not isinstance(aggregate_topic, str) or not aggregate_topic.startswith(DOMAIN_PACKAGE):
            raise _UnreadableSnapshotError(
                f"it names the aggregate class {aggregate_topic!r}, not one of the ledger's"
            )
        try:
            return decoded.mutate(None)
        except Exception as error:  # noqa: BLE001 - a snapshot that does not load is a finding
            raise _UnreadableSnapshotError(
                f"it does not load: {type(error).__name__}: {error}"
            ) from None

    def _stored_form(self, aggregate: Any) -> Any:
        state = {k: v for k, v in vars(aggregate).items() if k not in LEFT_OUT}
        return json.loads(self.mapper.transcoder.encode(state))


class _UnreadableSnapshotError(Exception):
    """A snapshot row that does not load as an aggregate of the ledger."""


def _named(originator_id: str, version: int) -> str:
    return f"snapshot {originator_id} v{version}"


def _no_snapshot(originator_id: str, version: int) -> StoredSnapshot:
    raise AssertionError(f"no snapshot table holds {originator_id} v{version}")


def _shown(value: Any) -> str:
    text = "absent" if value is _ABSENT else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= SHOWN else text[: SHOWN - 1] + "…"


_ABSENT = object()


def _first_difference(stored: Any, rebuilt: Any, path: str = "") -> tuple[str, Any, Any]:
    """Return the first path (by sorted key) where two stored forms differ, and both values."""
    if isinstance(stored, dict) and isinstance(rebuilt, dict) and not _is_tagged(stored):
        for key in sorted(set(stored) | set(rebuilt)):
            a, b = stored.get(key, _ABSENT), rebuilt.get(key, _ABSENT)
            if a != b:
                return _first_difference(a, b, f"{path}.{key}" if path else key)
    if isinstance(stored, list) and isinstance(rebuilt, list) and len(stored) == len(rebuilt):
        for n, (a, b) in enumerate(zip(stored, rebuilt, strict=True)):
            if a != b:
                return _first_difference(a, b, f"{path}[{n}]")
    return path or "the state", _untagged(stored), _untagged(rebuilt)


def _is_tagged(value: dict[str, Any]) -> bool:
    return set(value) == {"_type_", "_data_"}


def _untagged(value: Any) -> Any:
    return value["_data_"] if isinstance(value, dict) and _is_tagged(value) else value
