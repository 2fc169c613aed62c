#!/usr/bin/env python3
"""Verify an upbit-ledger audit bundle with nothing but the Python standard library.

Usage (Python 3.9 or newer, nothing else):
    python3 verify_bundle.py BUNDLE [BUNDLE ...] [--head POSITION:LINK ...] [--json]

BUNDLE is a bundle directory or its .tar.gz. The script recomputes the hash chain from the
genesis through every row of chain.tsv (position, count, digest, link), checks that each event
line of events.jsonl hashes to the digest its row holds, in the chain's order, and that the
recomputed head is the manifest's; it then goes on through seal.tsv to the export's seal (the
`audit.bundle.sealed` event in seal.jsonl, which the export recorded in the log: it names the
manifest's sha256), checks that the manifest is the one sealed, that the rows in full are the
ones its selection names (all of them when it names everything), the checkpoints the log
recorded, the files' sha256, and that every head given (`--head`, written down earlier) and
every other bundle's head lies on the same chain. It names the first event that does not match
and what was done to it (changed, deleted, inserted, reordered, left out), a chain row that was
altered, or a manifest that is not the one sealed.

Exit status: 0 every check passed; 4 a check failed (the message names the event); 2 the bundle
cannot be read. The link rule (docs/audit.md of upbit-ledger):
    digest_n = sha256(canonical JSON line of event n, UTF-8)
    link_n   = sha256(bytes(link_{n-1}) + bytes(digest_n))
    link_0   = sha256("upbit-ledger audit chain v2")
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tarfile
import tempfile
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

BUNDLE_FORMAT = "upbit-ledger audit bundle 2"
LINK_RULE = "upbit-ledger audit chain v2"
GENESIS_LINK = hashlib.sha256(LINK_RULE.encode("ascii")).hexdigest()
CHECKPOINT_TOPIC = "audit.chain.checkpointed"
SEAL_TOPIC = "audit.bundle.sealed"
EXIT_OK, EXIT_UNREADABLE, EXIT_MISMATCH = 0, 2, 4


def event_digest(canonical: str) -> str:
    """Return an event's digest: the sha256 (hex) of its canonical JSON in UTF-8."""
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def link_after(previous_link: str, digest: str) -> str:
    """Return the link of an event of `digest`: sha256(previous link's bytes + digest's bytes)."""
    return hashlib.sha256(bytes.fromhex(previous_link) + bytes.fromhex(digest)).hexdigest()


def manifest_sha256(manifest: dict[str, Any]) -> str:
    """Return the sha256 the export seals: of the manifest less its `seal`, as sorted JSON."""
    sealed = {k: v for k, v in manifest.items() if k != "seal"}
    text = json.dumps(sealed, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Selection:
    """The manifest's selection, as far as the rows and lines of a bundle can check it."""

    from_position: int | None = None
    to_position: int | None = None
    from_time: str | None = None
    to_time: str | None = None
    market: str | None = None
    strategy: str | None = None

    @classmethod
    def of(cls, manifest: dict[str, Any]) -> Selection:
        """Return the manifest's selection (an unreadable one selects nothing it can check)."""
        given = manifest.get("selection")
        if not isinstance(given, dict):
            return cls()
        ints = [
            v if isinstance(v, int) else None
            for v in (given.get("from_position"), given.get("to_position"))
        ]
        texts = [
            v if isinstance(v, str) else None
            for v in (given.get(k) for k in ("from_time", "to_time", "market", "strategy"))
        ]
        return cls(*ints, *texts)

    @property
    def by_fields(self) -> bool:
        """Return True when an event's fields decide whether it is selected."""
        return any(
            v is not None for v in (self.from_time, self.to_time, self.market, self.strategy)
        )

    def holds_position(self, position: int) -> bool:
        """Return True when `position` is within the position bounds."""
        if self.from_position is not None and position < self.from_position:
            return False
        return self.to_position is None or position <= self.to_position

    def mark_differs(self, position: int, exported: bool) -> str | None:
        """Return why a row's mark contradicts the selection, or None when it may be right."""
        if exported and not self.holds_position(position):
            return "its line is in full, and the selection's positions do not hold it"
        if not exported and not self.by_fields and self.holds_position(position):
            return (
                "the selection names every event"
                + ("" if self.from_position is None and self.to_position is None else " here")
                + ", and the bundle leaves this one out"
            )
        return None

    def line_differs(self, event: dict[str, Any]) -> str | None:
        """Return why an event line in full is not one the selection names, or None."""
        at = event.get("occurred_at")
        if self.from_time is not None or self.to_time is not None:
            try:
                when = datetime.fromisoformat(str(at))
                before = self.from_time is not None and when < datetime.fromisoformat(
                    self.from_time
                )
                after = self.to_time is not None and when >= datetime.fromisoformat(self.to_time)
            except ValueError:
                return f"its occurred_at {at!r} is not a time"
            if before or after:
                return f"it occurred at {at}, outside the selection's times"
        for name, key in (("market", "market"), ("strategy", "strategy_id")):
            wanted, value = getattr(self, name), event.get(key)
            if wanted is not None and isinstance(value, str) and value != wanted:
                return f"it names {name} {value!r}, and the selection {wanted!r}"
        return None


class UnreadableBundleError(Exception):
    """The bundle is missing a file, or a file is not in the bundle's format."""


@dataclass(frozen=True)
class Finding:
    """One check that failed: where, the event it names, what was done, the detail."""

    position: int
    kind: str
    event: str
    detail: str

    def describe(self) -> str:
        """Return the one-line message."""
        where = f"position {self.position}: " if self.position else ""
        return f"{where}{self.event}: {self.kind}: {self.detail}"


@dataclass
class Report:
    """The outcome of verifying one bundle."""

    path: str
    head: dict[str, Any] = field(default_factory=dict)
    events: int = 0
    chain_rows: int = 0
    checkpoints: int = 0
    findings: list[Finding] = field(default_factory=list)
    watched: dict[int, str] = field(default_factory=dict)
    """Recomputed links at the positions of heads to check (other bundles', `--head`)."""

    @property
    def intact(self) -> bool:
        """Return True when every check passed."""
        return not self.findings

    def as_dict(self) -> dict[str, Any]:
        """Return the report as plain values (for --json)."""
        first = self.findings[0] if self.findings else None
        return {
            "bundle": self.path,
            "intact": self.intact,
            "head": self.head,
            "events": self.events,
            "chain_rows": self.chain_rows,
            "checkpoints_checked": self.checkpoints,
            "first_finding": None if first is None else vars(first),
            "findings": len(self.findings),
        }


class Bundle:
    """The files of a bundle, from its directory or its .tar.gz.

    An archive's files are copied out first, in archive order (one pass of gunzip), into a
    temporary directory removed by `close`: the walk reads two of them side by side, which a
    gzip stream could only do by decompressing again from its start.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._root = path
        self._temporary: str | None = None
        if os.path.isdir(path):
            return
        if not os.path.isfile(path):
            raise UnreadableBundleError(f"{path}: no such bundle directory or file")
        self._temporary = tempfile.mkdtemp(prefix="verify-bundle-")
        self._root = self._temporary
        try:
            with tarfile.open(path, "r:*") as tar:
                for member in tar:
                    name = member.name.split("/", 1)[-1]
                    if not member.isfile() or "/" in name or name.startswith("."):
                        continue
                    source = tar.extractfile(member)
                    if source is None:
                        continue
                    with source, open(os.path.join(self._root, name), "wb") as target:
                        shutil.copyfileobj(source, target, 1 << 20)
        except (tarfile.TarError, OSError, EOFError) as error:
            self.close()
            raise UnreadableBundleError(
                f"{path}: not a bundle directory or tar archive ({error})"
            ) from None

    def open(self, name: str) -> IO[bytes]:
        """Return the file `name` of the bundle, for reading bytes."""
        try:
            return open(os.path.join(self._root, name), "rb")  # noqa: SIM115 (the caller closes)
        except OSError:
            raise UnreadableBundleError(f"{self.path}: the bundle has no {name}") from None

    def close(self) -> None:
        """Remove the files copied out of an archive."""
        if self._temporary is not None:
            shutil.rmtree(self._temporary, ignore_errors=True)
            self._temporary = None

    def manifest(self) -> dict[str, Any]:
        """Return the bundle's manifest."""
        with self.open("manifest.json") as handle:
            return parse_manifest(self.path, handle.read())


def read_manifest(path: str) -> dict[str, Any]:
    """Return a bundle's manifest without copying an archive out (it is the first member)."""
    if os.path.isdir(path) or not os.path.isfile(path):
        bundle = Bundle(path)
        try:
            return bundle.manifest()
        finally:
            bundle.close()
    try:
        with tarfile.open(path, "r|*") as tar:
            for member in tar:
                if member.isfile() and member.name.split("/", 1)[-1] == "manifest.json":
                    handle = tar.extractfile(member)
                    if handle is not None:
                        return parse_manifest(path, handle.read())
    except (tarfile.TarError, OSError, EOFError) as error:
        raise UnreadableBundleError(
            f"{path}: not a bundle directory or tar archive ({error})"
        ) from None
    raise UnreadableBundleError(f"{path}: the bundle has no manifest.json")


def parse_manifest(path: str, data: bytes) -> dict[str, Any]:
    """Return the manifest of `data`, refusing another format or link rule."""
    try:
        manifest = json.loads(data)
    except ValueError as error:
        raise UnreadableBundleError(f"{path}: manifest.json is not JSON ({error})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
        raise UnreadableBundleError(f"{path}: manifest.json is not of the format {BUNDLE_FORMAT!r}")
    if manifest.get("link_rule") != LINK_RULE:
        raise UnreadableBundleError(
            f"{path}: the bundle's chain uses link rule {manifest.get('link_rule')!r}, "
            f"this verifier knows {LINK_RULE!r}"
        )
    return manifest


class HashingReader:
    """Lines of a bundle file, hashing every byte read (for the manifest's file sha256)."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle
        self.sha256 = hashlib.sha256()
        self.size = 0

    def lines(self) -> Iterator[bytes]:
        """Yield each line without its newline; close the file at its end."""
        update = self.sha256.update
        with self.handle:
            for line in self.handle:
                update(line)
                self.size += len(line)
                yield line[:-1] if line.endswith(b"\n") else line


@dataclass
class Line:
    """An event line of events.jsonl: where it is, its digest, how it names its event."""

    number: int
    digest: str
    name: str
    outside: str | None = None
    """Why the selection does not name this event, when it does not."""


@dataclass
class EventLines:
    """What events.jsonl holds: its lines by position, the lines that are not events, claims."""

    by_position: dict[int, Line] = field(default_factory=dict)
    unreadable: set[int] = field(default_factory=set)
    """Numbers of the lines that are not an event's canonical JSON."""
    claims: dict[int, tuple[int, str, int]] = field(default_factory=dict)
    """Checkpoint position -> the head it names (position, link, count)."""


def read_events(
    bundle: Bundle, report: Report, selection: Selection
) -> tuple[EventLines, HashingReader]:
    """Read events.jsonl: each line's position, digest and name, and the checkpoints' claims."""
    found = EventLines()
    lines, claims = found.by_position, found.claims
    reader = HashingReader(bundle.open("events.jsonl"))
    for number, raw in enumerate(reader.lines(), start=1):
        try:
            text = raw.decode("utf-8")
            event = json.loads(text)
            position = int(event["position"])
            name = f"{event['topic']} {event['originator_id']} v{event['originator_version']}"
        except (ValueError, KeyError, TypeError):
            found.unreadable.add(number)
            continue
        if position in lines:
            report.findings.append(
                Finding(
                    position,
                    "inserted",
                    name,
                    f"line {number} repeats the position of line {lines[position].number}",
                )
            )
            continue
        outside = selection.line_differs(event) if selection.by_fields else None
        lines[position] = Line(number, event_digest(text), name, outside)
        if event["topic"] == CHECKPOINT_TOPIC:
            claims[position] = (
                int(event["head_position"]),
                str(event["head_link"]),
                int(event["head_count"]),
            )
    return found, reader


@dataclass
class ChainRow:
    """A row of chain.tsv."""

    position: int
    count: int
    digest: str
    link: str
    exported: bool
    name: str


def chain_rows(reader: HashingReader) -> Iterator[ChainRow | None]:
    """Yield the rows of chain.tsv (None for a row that is not one)."""
    for raw in reader.lines():
        if raw.startswith(b"#"):
            continue
        try:
            cells = raw.decode("utf-8").split("\t")
            position, count, digest, link, mark = cells[:5]
            bytes.fromhex(digest + link)
            if len(digest) != 64 or len(link) != 64 or mark not in ("e", "-"):
                raise ValueError(mark)
            yield ChainRow(
                int(position), int(count), digest, link, mark == "e", "\t".join(cells[5:])
            )
        except (ValueError, UnicodeDecodeError):
            yield None


@dataclass
class ChainWalk:
    """The chain recomputed from the genesis over chain.tsv, matched with the event lines."""

    report: Report
    events: EventLines
    watch: set[int]
    selection: Selection = field(default_factory=Selection)
    link: str = GENESIS_LINK
    count: int = 0
    position: int = 0
    marked: int = 0
    previous_line: int = 0
    heads: dict[int, tuple[str, int]] = field(default_factory=dict)

    def run(self, rows: Iterator[ChainRow | None]) -> None:
        """Walk every row, then name the event lines the chain does not hold."""
        for row in rows:
            if row is None:
                self.found(
                    self.position,
                    "chain_altered",
                    "chain.tsv",
                    f"the row after position {self.position} is not a chain row",
                )
                return
            self.step(row)
        for position, line in sorted(self.events.by_position.items()):
            self.found(
                position,
                "inserted",
                line.name,
                f"line {line.number}: the chain holds no event at this position",
            )

    def found(self, position: int, kind: str, event: str, detail: str) -> None:
        """Record a failed check."""
        self.report.findings.append(Finding(position, kind, event, detail))

    def step(self, row: ChainRow) -> None:
        """Recompute one link; check the row and, when exported, its event line."""
        link, count = link_after(self.link, row.digest), self.count + 1
        name = row.name or "chain.tsv"
        if row.position <= self.position:
            self.found(
                row.position,
                "chain_altered",
                name,
                f"the row's position is not after the previous row's ({self.position})",
            )
        if (row.link, row.count) != (link, count):
            self.found(
                row.position,
                "chain_altered",
                name,
                f"the row's link or count was changed (stored {row.link[:16]}… "
                f"#{row.count}, recomputed {link[:16]}… #{count})",
            )
            link, count = row.link, row.count  # go on from the row as stored
        self.link, self.count, self.position = link, count, row.position
        self.report.chain_rows += 1
        if row.position in self.watch:
            self.heads[row.position] = (link, count)
        line = self.events.by_position.pop(row.position, None)
        left_out = self.selection.mark_differs(row.position, row.exported)
        if left_out is not None:
            self.found(
                row.position,
                "left_out" if not row.exported else "inserted",
                name if line is None else line.name,
                left_out,
            )
        if row.exported:
            self.marked += 1
            self.exported(row, line)
        elif line is not None:
            self.found(
                row.position,
                "inserted",
                line.name,
                f"line {line.number}: the chain holds this event as not exported",
            )

    def exported(self, row: ChainRow, line: Line | None) -> None:
        """Check the event line of a row the chain holds as exported."""
        if line is None:
            if self.marked in self.events.unreadable:
                self.found(
                    row.position,
                    "changed",
                    row.name,
                    f"its line ({self.marked}) is no longer an event's canonical JSON",
                )
            else:
                self.found(
                    row.position,
                    "deleted",
                    row.name,
                    "the chain holds this event as exported; events.jsonl has no line for it",
                )
            return
        if line.outside is not None:
            self.found(row.position, "selection_mismatch", line.name, line.outside)
        if line.digest != row.digest:
            self.found(
                row.position,
                "changed",
                line.name,
                f"line {line.number} hashes to {line.digest[:16]}…, the chain recorded "
                f"{row.digest[:16]}…",
            )
        elif line.number < self.previous_line:
            self.found(
                row.position,
                "reordered",
                line.name,
                f"its line {line.number} comes after the line ({self.previous_line}) "
                "of an earlier position",
            )
        self.previous_line = max(self.previous_line, line.number)


def verify(path: str, watch: set[int] | None = None) -> Report:
    """Verify one bundle; record the recomputed links at the `watch` positions."""
    bundle = Bundle(path)
    try:
        return _verify(bundle, bundle.manifest(), watch)
    finally:
        bundle.close()


def _verify(bundle: Bundle, manifest: dict[str, Any], watch: set[int] | None) -> Report:
    report = Report(bundle.path)
    selection = Selection.of(manifest)
    walked = fast_walk(bundle, report, watch or set(), selection)
    if walked is None:  # something differs: walk again, indexing every line, to name it
        report = Report(bundle.path)
        walked = full_walk(bundle, report, watch or set(), selection)
    walk, claims, readers = walked
    for at, (head_position, head_link, head_count) in sorted(claims.items()):
        report.checkpoints += 1
        if walk.heads.get(head_position) != (head_link, head_count):
            walk.found(
                at,
                "checkpoint_mismatch",
                f"{CHECKPOINT_TOPIC} at position {at}",
                f"the checkpoint names position {head_position} with link "
                f"{head_link[:16]}… and count {head_count:,}; the recomputed chain differs",
            )
    head = manifest.get("chain", {}).get("head", {})
    recomputed = [walk.position, walk.count, walk.link]
    if [head.get(k) for k in ("position", "count", "link")] != recomputed:
        walk.found(
            0,
            "chain_altered",
            "manifest.json",
            f"the manifest's head (position {head.get('position')}, "
            f"#{head.get('count')}, {str(head.get('link'))[:16]}…) is not the recomputed "
            f"one (position {walk.position}, #{walk.count}, {walk.link[:16]}…)",
        )
    check_seal(bundle, manifest, walk)
    report.watched = {p: link for p, (link, _) in walk.heads.items()}
    report.head = {"position": walk.position, "count": walk.count, "link": walk.link}
    counted = manifest.get("events", {}).get("count")
    if counted != report.events:
        walk.found(
            0,
            "changed",
            "manifest.json",
            f"it counts {counted} events; events.jsonl has {report.events} lines",
        )
    check_files(bundle, manifest, report, readers)
    report.findings.sort(key=lambda f: f.position or sys.maxsize)
    return report


def check_seal(bundle: Bundle, manifest: dict[str, Any], walk: ChainWalk) -> None:
    """Walk on through seal.tsv to the export's seal; check that it seals this manifest.

    The export recorded `audit.bundle.sealed` (the manifest's sha256 and the head) in the log
    after the bundle's head; seal.tsv holds the rows from the head to it (events other writers
    recorded meanwhile, left out, then the seal in full), seal.jsonl the seal's line.
    """
    try:
        rows_reader, line_file = HashingReader(bundle.open("seal.tsv")), bundle.open("seal.jsonl")
    except UnreadableBundleError:
        walk.found(0, "unsealed", "manifest.json", "the bundle has no seal.tsv or seal.jsonl")
        return
    with line_file:
        data = line_file.read()
    line = data[:-1] if data.endswith(b"\n") else data
    rows = list(chain_rows(rows_reader))
    for number, row in enumerate(rows, start=1):
        if row is None:
            walk.found(0, "chain_altered", "seal.tsv", f"row {number} is not a chain row")
            return
        link, count = link_after(walk.link, row.digest), walk.count + 1
        if row.position <= walk.position or (row.link, row.count) != (link, count):
            walk.found(
                row.position,
                "chain_altered",
                row.name or "seal.tsv",
                "the row does not follow from the rows before (its position, link or count "
                "was changed)",
            )
            return
        walk.link, walk.count, walk.position = link, count, row.position
        if row.position in walk.watch:
            walk.heads[row.position] = (link, count)
        if row.exported != (number == len(rows)):
            walk.found(
                row.position,
                "chain_altered",
                row.name or "seal.tsv",
                "only seal.tsv's last row, the seal, is in full",
            )
            return
    if not rows:
        walk.found(0, "unsealed", "seal.tsv", "seal.tsv holds no seal")
        return
    seal = rows[-1]
    if hashlib.sha256(line).hexdigest() != seal.digest:
        walk.found(
            seal.position, "changed", seal.name, "seal.jsonl does not hash to the seal's digest"
        )
        return
    try:
        event = json.loads(line)
        named = str(event["manifest_sha256"])
        head = [
            int(event[f"head_{k}"]) if k != "link" else event["head_link"]
            for k in ("position", "count", "link")
        ]
    except (ValueError, KeyError, TypeError):
        event, named, head = {}, "", []
    if event.get("topic") != SEAL_TOPIC:
        walk.found(seal.position, "unsealed", seal.name, f"the last event is not an {SEAL_TOPIC}")
        return
    chain_head = manifest.get("chain", {}).get("head", {})
    if head != [chain_head.get(k) for k in ("position", "count", "link")]:
        walk.found(
            seal.position,
            "manifest_altered",
            seal.name,
            f"the seal names the head at position {head[:1]}, the manifest another",
        )
    actual = manifest_sha256(manifest)
    if named != actual:
        walk.found(
            seal.position,
            "manifest_altered",
            seal.name,
            f"the manifest's sha256 is {actual[:16]}…, the export sealed {named[:16]}… in the "
            "log: the manifest (its selection, code version, counts or a file's sha256) was "
            "edited after the export",
        )
    given = manifest.get("seal")
    if not isinstance(given, dict) or [given.get(k) for k in ("position", "count", "link")] != [
        walk.position,
        walk.count,
        walk.link,
    ]:
        walk.found(
            seal.position,
            "chain_altered",
            "manifest.json",
            "the manifest's seal is not the recomputed head after seal.tsv",
        )


Walked = tuple["ChainWalk", dict[int, tuple[int, str, int]], dict[str, HashingReader]]
CHECKPOINT_MARK = f'"topic":"{CHECKPOINT_TOPIC}"'.encode()
RECENT_HEADS = 100_000


def fast_walk(
    bundle: Bundle, report: Report, watch: set[int], selection: Selection
) -> Walked | None:
    """Walk chain.tsv and events.jsonl side by side, holding almost nothing in memory.

    Returns None at the first thing that differs (a line that is not the next exported row's,
    a row that does not follow, a checkpoint's head that is no longer recent), so that
    `full_walk` names it precisely.
    """
    events_reader = HashingReader(bundle.open("events.jsonl"))
    chain_reader = HashingReader(bundle.open("chain.tsv"))
    lines = events_reader.lines()
    walk = ChainWalk(report, EventLines(), watch, selection)
    recent: OrderedDict[int, tuple[str, int]] = OrderedDict()
    claims: dict[int, tuple[int, str, int]] = {}
    sha256 = hashlib.sha256
    for row in chain_rows(chain_reader):
        if row is None:
            return None
        link, count = link_after(walk.link, row.digest), walk.count + 1
        if row.position <= walk.position or (row.link, row.count) != (link, count):
            return None
        walk.link, walk.count, walk.position = link, count, row.position
        report.chain_rows += 1
        recent[row.position] = (link, count)
        if len(recent) > RECENT_HEADS:
            recent.popitem(last=False)  # O(1); deleting a dict's first key is not, once many are
        if row.position in watch:
            walk.heads[row.position] = (link, count)
        if selection.mark_differs(row.position, row.exported) is not None:
            return None
        if not row.exported:
            continue
        line = next(lines, None)
        if line is None or sha256(line).hexdigest() != row.digest:
            return None
        report.events += 1
        if selection.by_fields and selection.line_differs(json.loads(line)) is not None:
            return None
        if CHECKPOINT_MARK in line:
            event = json.loads(line)
            if event.get("topic") == CHECKPOINT_TOPIC:
                claim = (
                    int(event["head_position"]),
                    str(event["head_link"]),
                    int(event["head_count"]),
                )
                if claim[0] not in recent:
                    return None
                walk.heads[claim[0]] = recent[claim[0]]
                claims[row.position] = claim
    if next(lines, None) is not None:
        return None
    return walk, claims, {"events.jsonl": events_reader, "chain.tsv": chain_reader}


def full_walk(bundle: Bundle, report: Report, watch: set[int], selection: Selection) -> Walked:
    """Index every event line by position, then walk chain.tsv: names what differs, exactly."""
    events, events_reader = read_events(bundle, report, selection)
    report.events = len(events.by_position) + len(events.unreadable)
    claims = dict(events.claims)
    chain_reader = HashingReader(bundle.open("chain.tsv"))
    walk = ChainWalk(report, events, watch | {c[0] for c in claims.values()}, selection)
    walk.run(chain_rows(chain_reader))
    return walk, claims, {"events.jsonl": events_reader, "chain.tsv": chain_reader}


def check_files(
    bundle: Bundle, manifest: dict[str, Any], report: Report, read: dict[str, HashingReader]
) -> None:
    """Check every file the manifest lists against its sha256 and size."""
    for name, expected in sorted(manifest.get("files", {}).items()):
        if name in read:
            digest, size = read[name].sha256.hexdigest(), read[name].size
        else:
            sha, size = hashlib.sha256(), 0
            with bundle.open(name) as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    sha.update(block)
                    size += len(block)
            digest = sha.hexdigest()
        if (digest, size) != (expected.get("sha256"), expected.get("bytes")):
            report.findings.append(
                Finding(
                    0,
                    "changed",
                    name,
                    f"the file's sha256 {digest[:16]}… ({size:,} bytes) is not the manifest's "
                    f"{str(expected.get('sha256'))[:16]}… ({expected.get('bytes')} bytes)",
                )
            )


def parse_head(text: str) -> tuple[int, str]:
    """Return a head written down as POSITION:LINK."""
    position, _, link = text.partition(":")
    if not position.isdigit() or len(link) != 64 or any(c not in "0123456789abcdef" for c in link):
        raise argparse.ArgumentTypeError(
            f"--head {text!r} must be POSITION:LINK (a position and a 64-hex link)"
        )
    return int(position), link


def verify_all(paths: list[str], heads: list[tuple[int, str]]) -> list[Report]:
    """Verify every bundle, and that the given heads and each other's heads are on its chain."""
    manifests = {path: read_manifest(path) for path in paths}
    tips = {
        path: m.get("seal")
        if isinstance(m.get("seal"), dict)
        else m.get("chain", {}).get("head", {})
        for path, m in manifests.items()
    }
    known = list(heads) + [
        (int(t["position"]), str(t["link"])) for t in tips.values() if "position" in t
    ]
    reports = []
    for path in paths:
        own = int(tips[path].get("position", 0))
        watch = {position for position, _ in known if position <= own}
        report = verify(path, watch)
        for position, link in known:
            if position > own:
                if (position, link) in heads:
                    report.findings.append(
                        Finding(
                            position,
                            "not_covered",
                            "--head",
                            f"the bundle's chain ends at position {own}, before this head",
                        )
                    )
                continue
            if report.watched.get(position) != link:
                report.findings.append(
                    Finding(
                        position,
                        "other_chain",
                        f"head {link[:16]}…",
                        "this head (given, or another bundle's) is not on the bundle's chain: "
                        f"recomputed {report.watched.get(position, 'no event')[:16]}… there",
                    )
                )
        reports.append(report)
    return reports


def main(argv: list[str] | None = None) -> int:
    """Verify the bundles named on the command line; print the outcome; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "bundles", nargs="+", metavar="BUNDLE", help="a bundle directory or .tar.gz"
    )
    parser.add_argument(
        "--head",
        action="append",
        default=[],
        type=parse_head,
        metavar="POSITION:LINK",
        help="a chain head written down earlier; it must lie on every bundle's chain",
    )
    parser.add_argument("--json", action="store_true", help="print the outcome as JSON")
    args = parser.parse_args(argv)
    try:
        reports = verify_all(args.bundles, args.head)
    except UnreadableBundleError as error:
        print(f"unreadable bundle: {error}", file=sys.stderr)
        return EXIT_UNREADABLE
    if args.json:
        print(json.dumps([r.as_dict() for r in reports], indent=2))
    else:
        for r in reports:
            if r.intact:
                print(
                    f"{r.path}: intact: {r.events:,} events in full, {r.chain_rows:,} chained, "
                    f"{r.checkpoints} checkpoints; head at position {r.head['position']} "
                    f"(#{r.head['count']:,}) link {r.head['link']}"
                )
            else:
                print(
                    f"{r.path}: NOT intact ({len(r.findings)} finding(s)); first: "
                    f"{r.findings[0].describe()}"
                )
    return EXIT_OK if all(r.intact for r in reports) else EXIT_MISMATCH


if __name__ == "__main__":
    sys.exit(main())
