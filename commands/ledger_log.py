"""The event log under every use case: recorder, snapshots, transcodings and conflict retries."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.domain import DomainEventProtocol, Snapshot
from eventsourcing.persistence import (
    IntegrityError,
    JSONTranscoder,
    ProcessRecorder,
    Recording,
    StoredEvent,
)
from eventsourcing.utils import register_topic

from commands.errors import ConcurrencyConflictError, DuplicateRunError
from commands.transcodings import STORED_ENUMS, EnumTranscoding
from commands.writer_turns import ProcessWriterTurns, Turn, WriterTurns
from domain.audit.checkpoint import ChainCheckpoint, ChainHead, checkpoint_cause
from domain.audit.seal import BundleSeal, seal_id
from domain.event_names import EVENT_CLASS_BY_BUS_NAME
from domain.events import Cause

T = TypeVar("T")
A = TypeVar("A")
DEFAULT_CONFLICT_RETRIES = 10
READ_PAGE = 5000
CHECKPOINT_EVERY_ENV = "AUDIT_CHECKPOINT_EVERY"
"""The environment key of the audit chain's checkpoint interval (events; default 10,000)."""
CONFLICT_BACKOFF_S = 0.002
"""Pause before retry n is n x this: racing writers drift apart instead of colliding again."""


def register_event_topics() -> None:
    """Register every event class under its bus name, so stored topics resolve on load."""
    for name, event_class in EVENT_CLASS_BY_BUS_NAME.items():
        register_topic(name, event_class)


class LedgerLog(Application[UUID]):
    """An application on the ledger's one event log, with the plumbing its use cases share."""

    env = {
        # Keep recently used aggregates in memory; every get still fetches newer events from
        # the log ("fast-forward"), so other writers' changes are always seen.
        "AGGREGATE_CACHE_MAXSIZE": "4096",
        "AGGREGATE_CACHE_FASTFORWARD": "y",
        "DEEPCOPY_FROM_AGGREGATE_CACHE": "y",
    }

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        account: str = "main",
        conflict_retries: int = DEFAULT_CONFLICT_RETRIES,
    ) -> None:
        register_event_topics()
        self.account = account
        self.conflict_retries = max(1, conflict_retries)
        super().__init__(dict(env) if env is not None else None)
        self._is_checkpointing = False
        # PostgreSQL's recorder gives turns among processes; an in-memory log, among threads.
        make_turns: Callable[[], WriterTurns] | None = getattr(self.recorder, "writer_turns", None)
        self.writer_turns: WriterTurns = make_turns() if make_turns else ProcessWriterTurns()
        self._turns = threading.local()  # the turn this thread holds, if any
        every = self.env.get(CHECKPOINT_EVERY_ENV)
        if every and hasattr(self.recorder, "checkpoint_every"):
            setattr(self.recorder, "checkpoint_every", max(1, int(every)))  # noqa: B010

    def construct_recorder(self) -> ProcessRecorder:
        """Use a process recorder, so process managers can track their position in the log."""
        return self.factory.process_recorder()

    def _take_snapshots(self, processing_event: ProcessingEvent[UUID]) -> None:
        """Snapshot each saved aggregate once, from memory, when the save crossed its interval.

        The library re-reads an aggregate from the log for every crossed multiple of the
        interval. Right after a successful save the object in memory *is* the recorded state
        at its version, so one snapshot of it is exact and needs no read (a batch of 500
        orders crossed the ledger's interval ten times).
        """
        if self.snapshots is None:
            return
        saved: dict[UUID, int] = {}
        for event in processing_event.events:
            saved[event.originator_id] = saved.get(event.originator_id, 0) + 1
        for aggregate_id, aggregate in processing_event.aggregates.items():
            interval = self.snapshotting_intervals.get(type(aggregate))
            count = saved.get(aggregate_id, 0)
            if not interval or not count:
                continue
            if aggregate.version // interval > (aggregate.version - count) // interval:
                self.snapshots.put([Snapshot.take(aggregate)])

    def _record(self, processing_event: ProcessingEvent[UUID]) -> list[Recording[UUID]]:
        """Record as the library does, then any checkpoint of the audit chain the save made due."""
        turn: Turn | None = getattr(self._turns, "current", None)
        if turn is not None:
            turn.granted()  # no other process saves on the account from here to the turn's end
        recordings = super()._record(processing_event)
        self._record_chain_checkpoints()
        return recordings

    def _record_chain_checkpoints(self) -> None:
        # Only the PostgreSQL recorder keeps the chain (adapters/postgres/recorder.py).
        take: Callable[[], list[ChainHead]] | None = getattr(
            self.recorder, "take_due_checkpoints", None
        )
        if take is None or self._is_checkpointing:
            return
        self._is_checkpointing = True
        try:
            while due := take():
                for head in due:
                    checkpoint = ChainCheckpoint.record(head, checkpoint_cause(head))
                    try:
                        Application.save(self, checkpoint)  # not a subclass's batching save
                    except IntegrityError:
                        continue  # this checkpoint is in the log already
        finally:
            self._is_checkpointing = False

    def seal_bundle(self, manifest_sha256: str, head: ChainHead, cause: Cause) -> UUID:
        """Record an export bundle's manifest (its sha256, the head it was verified to).

        Recording the same manifest again is not an error: its seal is in the log already.
        Return the seal's id (the caller finds its position in the log).
        """
        with contextlib.suppress(IntegrityError):  # this manifest was sealed before
            Application.save(self, BundleSeal.record(manifest_sha256, head, cause))
        return seal_id(manifest_sha256)

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        """Register the library's transcodings and the domain's enums (for snapshots)."""
        super().register_transcodings(transcoder)
        for enum_class in STORED_ENUMS:
            transcoder.register(EnumTranscoding(enum_class))

    def read_events(
        self, topics: Sequence[str], *, after: int = 0, upto: int | None = None
    ) -> Iterator[tuple[int, DomainEventProtocol[UUID]]]:
        """Yield (log position, event) of these topics after `after`, up to `upto`, in order."""
        last = after
        while True:
            page = self.recorder.select_notifications(
                start=last, limit=READ_PAGE, stop=upto, topics=topics, inclusive_of_start=False
            )
            if not page:
                return
            for notification in page:
                yield notification.id, self.mapper.to_domain_event(notification)
            last = page[-1].id

    def copy_events_from(self, source: LedgerLog) -> int:
        """Append every event of `source` (e.g. an in-memory backtest) to this log, atomically.

        The stored bytes are copied as they are, so the copy decodes to the same events and
        the same replay hash. Return how many events were copied.

        Raises:
            DuplicateRunError: an aggregate of the source is already in this log.
        """
        notifications = source.recorder.select_notifications(start=None, limit=10**9)
        stored = [
            StoredEvent(
                originator_id=n.originator_id,
                originator_version=n.originator_version,
                topic=n.topic,
                state=n.state,
            )
            for n in notifications
        ]
        if not stored:
            return 0
        try:
            self.recorder.insert_events(stored)
            self._record_chain_checkpoints()
        except IntegrityError:
            raise DuplicateRunError(
                f"the events of account {source.account!r} are already in this log: a run is "
                "persisted once (change its inputs to record another run)"
            ) from None
        return len(stored)

    def _find(self, aggregate_id: UUID, kind: type[A]) -> A | None:
        try:
            aggregate: object = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        # An id of another kind of aggregate is not one of `kind`: not found, for the caller.
        return aggregate if isinstance(aggregate, kind) else None

    def close(self) -> None:
        """Close the log's connections, the writers' turns' included."""
        close_turns: Callable[[], None] | None = getattr(self.writer_turns, "close", None)
        if close_turns is not None:
            close_turns()
        super().close()

    @contextlib.contextmanager
    def account_turn(self) -> Iterator[None]:
        """Hold the account's writer turn: decide and save while no other writer saves."""
        with self.writer_turns.hold(self.account) as turn:
            outer = getattr(self._turns, "current", None)
            self._turns.current = turn
            try:
                yield
            finally:
                self._turns.current = outer

    def _retrying(self, attempt: Callable[[], T], what: str, *, in_turn: bool = True) -> T:
        """Decide and save with `attempt`, holding the account's writer turn (`in_turn`).

        Within the turn a save loses its version check at most once (reads that overlapped
        another process's save, `commands.writer_turns`); an aggregate of no account, such as
        a candle hour, is written without a turn. Either way: reload and decide again, a
        bounded number of times.
        """
        with self.account_turn() if in_turn else contextlib.nullcontext():
            for attempt_no in range(self.conflict_retries):
                try:
                    return attempt()
                except IntegrityError:
                    # Another writer won the race: wait a little, reload and decide again.
                    time.sleep(CONFLICT_BACKOFF_S * (attempt_no + 1))
        raise ConcurrencyConflictError(
            f"{what}: other writers changed the same records {self.conflict_retries} times in a "
            "row; nothing was recorded; try again"
        )
