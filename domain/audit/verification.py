"""Recompute the chain over the log in order and name the first event that does not match.

The walk is pure: the caller feeds it, in position order, each log position with the event the
log holds there and the row the chain table holds there (either may be missing), and two
look-ups for diagnosis. The link decides whether a position matches; the chain row's copy of
the event's identity (originator id and version, bus name) and the next position's link tell
what kind of change it was.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from domain.audit.canonical import CHAIN_FORMAT, LEFT_OUT_FIELDS_BY_FORMAT
from domain.audit.checkpoint import ChainCheckpoint
from domain.audit.link import GENESIS_LINK, chain_link, event_digest, link_after

CHECKPOINT_TOPIC = ChainCheckpoint.Checkpointed.TOPIC
RECENT_HEADS = 100_000
"""How many recent (position -> link, count) the walk keeps to check checkpoints against."""


class BreakKind(Enum):
    """What was done to the log (or its chain) at the first position that does not match."""

    CHANGED = "changed"
    DELETED = "deleted"
    INSERTED = "inserted"
    REORDERED = "reordered"
    CHAIN_ALTERED = "chain_altered"
    CHECKPOINT_MISMATCH = "checkpoint_mismatch"
    SNAPSHOT_ALTERED = "snapshot_altered"


def event_name(topic: str, originator_id: str, originator_version: int) -> str:
    """Return how a message (and a bundle's chain.tsv) names an event: bus name, id, version."""
    return f"{topic} {originator_id} v{originator_version}"


@dataclass(frozen=True)
class LoggedEvent:
    """An event as the log holds it at a position, with its canonical audit JSON."""

    position: int
    topic: str
    originator_id: str
    originator_version: int
    canonical: str
    checkpoint: tuple[int, str, int] | None = None
    """For `audit.chain.checkpointed`: the head it claims (position, link, count)."""
    body: dict[str, Any] | None = field(default=None, compare=False, repr=False)
    """The fields the canonical JSON encodes, when the reader has them (saves a decode)."""
    unchained_edit: str | None = None
    """For an event whose link left fields out (chain format 2): how those fields contradict
    the chained ones, found by the reader; the walk names the event as changed."""
    state: bytes | None = field(default=None, compare=False, repr=False)
    """The stored state as the log holds it, when the reader has it (to rebuild aggregates)."""

    def names(self) -> str:
        """Return how a message names this event."""
        return event_name(self.topic, self.originator_id, self.originator_version)


@dataclass(frozen=True)
class ChainRow:
    """The chain table's row at a position: the link and the identity it chained there."""

    position: int
    count: int
    topic: str
    originator_id: str
    originator_version: int
    link: str
    chain_format: int = CHAIN_FORMAT
    """The canonical form the link was made in (`domain/audit/canonical.py`)."""

    def names(self) -> str:
        """Return how a message names the event chained here."""
        return event_name(self.topic, self.originator_id, self.originator_version)


@dataclass(frozen=True)
class ChainBreak:
    """The first position where the log and its chain disagree."""

    position: int
    kind: BreakKind
    event: str
    """The event named (bus name, originator id and version): the log's, or the chain's."""
    detail: str

    def describe(self) -> str:
        """Return the one-line message naming the event and what differs."""
        return f"position {self.position}: {self.event}: {self.kind.value}: {self.detail}"

    def as_dict(self) -> dict[str, Any]:
        """Return the break as plain values (for JSON)."""
        return {
            "position": self.position,
            "kind": self.kind.value,
            "event": self.event,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class Step:
    """One log position: the event the log holds there and the chain's row there."""

    position: int
    event: LoggedEvent | None
    row: ChainRow | None


@dataclass
class ChainWalk:
    """The chain recomputed so far: from `link` after `count` events."""

    link: str = GENESIS_LINK
    count: int = 0
    position: int = 0
    checkpoints: int = 0
    chained_at: Callable[[str, int], int | None] = lambda _id, _version: None
    """(originator id, version) -> the position the chain recorded that event at."""
    logged_at: Callable[[str, int], int | None] = lambda _id, _version: None
    """(originator id, version) -> the position the log holds that event at."""
    stored_head_at: Callable[[int], tuple[str, int] | None] = lambda _position: None
    """position -> (link, count) of the chain table there (for checkpoints older than the walk)."""
    on_chained: Callable[[LoggedEvent, str, str, int], None] | None = None
    """Called with each event that matched its link, with its digest, link and count: how an
    export writes what it has verified."""
    _recent: OrderedDict[int, tuple[str, int]] = field(default_factory=OrderedDict)

    def run(self, steps: Iterable[Step]) -> ChainBreak | None:
        """Walk every step in order; return the first break, or None when all match."""
        iterator = iter(steps)
        pending: Step | None = next(iterator, None)
        while pending is not None:
            step = pending
            pending = next(iterator, None)
            found = self._step(step, pending, iterator)
            if found is not None:
                return found
        return None

    def _step(self, step: Step, following: Step | None, rest: Iterator[Step]) -> ChainBreak | None:
        event, row = step.event, step.row
        if event is None:
            assert row is not None
            return self._missing_event(row)
        if row is None:
            return self._unchained(event, following, rest)
        if row.chain_format not in LEFT_OUT_FIELDS_BY_FORMAT:
            return ChainBreak(
                step.position,
                BreakKind.CHAIN_ALTERED,
                event.names(),
                f"the chain table's row names chain format {row.chain_format}, which no "
                f"version of the ledger wrote (formats {sorted(LEFT_OUT_FIELDS_BY_FORMAT)})",
            )
        digest = event_digest(event.canonical)
        link = link_after(self.link, digest)
        if (row.originator_id, row.originator_version) != (
            event.originator_id,
            event.originator_version,
        ):
            return self._other_event(event, row)
        if link != row.link:
            return self._changed(event, row, link, following)
        if row.count != self.count + 1:
            return ChainBreak(
                step.position,
                BreakKind.CHAIN_ALTERED,
                event.names(),
                f"the chain table counts it as event {row.count:,}, the log as "
                f"{self.count + 1:,}; the event matches its link",
            )
        if event.unchained_edit is not None:
            return ChainBreak(
                step.position,
                BreakKind.CHANGED,
                event.names(),
                f"it matches its format-{row.chain_format} link, but {event.unchained_edit}",
            )
        self._advance(event.position, link)
        found = self._check_checkpoint(event)
        if found is None and self.on_chained is not None:
            self.on_chained(event, digest, link, self.count)
        return found

    def _advance(self, position: int, link: str) -> None:
        self.link, self.count, self.position = link, self.count + 1, position
        self._recent[position] = (link, self.count)
        if len(self._recent) > RECENT_HEADS:
            self._recent.popitem(last=False)

    def _missing_event(self, row: ChainRow) -> ChainBreak:
        moved_to = self.logged_at(row.originator_id, row.originator_version)
        if moved_to is not None:
            return ChainBreak(
                row.position,
                BreakKind.REORDERED,
                row.names(),
                f"the chain recorded this event here, and the log holds it at position "
                f"{moved_to}: events were reordered",
            )
        return ChainBreak(
            row.position,
            BreakKind.DELETED,
            row.names(),
            "the chain recorded this event here, and the log holds no event at this position "
            "nor anywhere else: it was deleted",
        )

    def _unchained(
        self, event: LoggedEvent, following: Step | None, rest: Iterator[Step]
    ) -> ChainBreak:
        # The events after this one that the chain lacks too (a save's row of several events
        # deleted), up to the next step the chain holds, if any.
        missing = [event]
        step = following
        while step is not None and step.row is None and step.event is not None:
            missing.append(step.event)
            step = next(rest, None)
        if step is None:
            return ChainBreak(
                event.position,
                BreakKind.INSERTED,
                event.names(),
                f"the event is after the chain's head (position {self.position}, "
                f"{self.count:,} events): it was written to the log without the chain "
                "(every event the ledger records is chained in its own transaction)",
            )
        if step.event is not None and step.row is not None:
            link = self.link
            for unchained in missing:
                link = chain_link(link, unchained.canonical)
            if chain_link(link, step.event.canonical) == step.row.link:
                others = len(missing) - 1
                return ChainBreak(
                    event.position,
                    BreakKind.CHAIN_ALTERED,
                    event.names(),
                    "the chain table's row for this event was deleted; the event matches "
                    "the next link"
                    if not others
                    else f"the chain table's rows for this event and the {others:,} after it "
                    "were deleted; the events match the next link",
                )
        return ChainBreak(
            event.position,
            BreakKind.INSERTED,
            event.names(),
            "the chain never recorded an event at this position: it was inserted",
        )

    def _other_event(self, event: LoggedEvent, row: ChainRow) -> ChainBreak:
        elsewhere = self.chained_at(event.originator_id, event.originator_version)
        if elsewhere is not None:
            return ChainBreak(
                event.position,
                BreakKind.REORDERED,
                event.names(),
                f"the chain recorded this event at position {elsewhere}, and {row.names()} "
                "here: events were reordered",
            )
        return ChainBreak(
            event.position,
            BreakKind.CHANGED,
            event.names(),
            f"the chain recorded {row.names()} here and never this event: the event was replaced",
        )

    def _changed(
        self, event: LoggedEvent, row: ChainRow, link: str, following: Step | None
    ) -> ChainBreak:
        if (
            following is not None
            and following.event is not None
            and following.row is not None
            and chain_link(link, following.event.canonical) == following.row.link
        ):
            return ChainBreak(
                event.position,
                BreakKind.CHAIN_ALTERED,
                event.names(),
                f"the chain table's link here was changed (stored {row.link[:16]}…, "
                f"recomputed {link[:16]}…); the event matches the next link",
            )
        return ChainBreak(
            event.position,
            BreakKind.CHANGED,
            event.names(),
            f"its content differs from what was chained (recomputed link {link[:16]}…, "
            f"chained {row.link[:16]}…)",
        )

    def _check_checkpoint(self, event: LoggedEvent) -> ChainBreak | None:
        if event.checkpoint is None:
            return None
        self.checkpoints += 1
        position, link, count = event.checkpoint
        known = self._recent.get(position) or self.stored_head_at(position)
        if known == (link, count):
            return None
        found = (
            "no chained event" if known is None else f"link {known[0][:16]}…, count {known[1]:,}"
        )
        return ChainBreak(
            event.position,
            BreakKind.CHECKPOINT_MISMATCH,
            event.names(),
            f"the checkpoint names position {position} with link {link[:16]}… and count "
            f"{count:,}, the recomputed chain has {found} there",
        )
