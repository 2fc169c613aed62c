"""Export an audit bundle: the log's chain verified from the genesis, written as it is verified.

The export walks the whole log in one consistent snapshot (`ChainReader.verify`), so a bundle is
only ever made from a log whose every event matches its chain; the first event that does not
stops the export and nothing is left behind. Every event goes into chain.tsv (position, count,
digest, link); the selected ones also go into events.jsonl as their canonical JSON, and into
the accountant's CSVs. Then the manifest's sha256 is sealed in the log (`audit.bundle.sealed`,
chained like any event), and the rows from the head to the seal go into seal.tsv, the seal's
line into seal.jsonl: a head kept at or after the seal proves the manifest. The bundle is
written into a hidden sibling directory and renamed into place (or packed into the .tar.gz)
only when whole. Format: docs/audit.md "The export bundle".
"""

from __future__ import annotations

import json
import shutil
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from adapters.audit_bundle import verify_bundle
from adapters.audit_bundle.files import BundleFiles, HashedFile
from adapters.postgres.chain_reader import ChainNotFollowedError, ChainReader, ChainStatus
from commands.bundle_seal import seal_bundle
from commands.trading import Trading
from domain.audit.checkpoint import ChainHead
from domain.audit.link import GENESIS_LINK, LINK_RULE
from domain.audit.seal import SEAL_ACTOR
from domain.audit.selection import BundleSelection
from domain.audit.summaries import AccountingSummaries
from domain.audit.verification import LoggedEvent
from domain.clock import to_kst
from domain.errors import InvalidExportSelectionError
from domain.events import Cause

BUNDLE_FORMAT = verify_bundle.BUNDLE_FORMAT
VERIFIER = Path(verify_bundle.__file__)
ARCHIVE_ORDER = (
    "manifest.json",
    "README.txt",
    "events.jsonl",
    "chain.tsv",
    "seal.tsv",
    "seal.jsonl",
)
Sealer = Callable[[str, ChainHead], UUID]
"""(manifest sha256, head) -> the id of the `audit.bundle.sealed` event it recorded."""


def ledger_sealer(log: Trading, exported_at: datetime) -> Sealer:
    """Return the sealer that records a bundle's manifest in `log`, at the export's time."""

    def seal(manifest_sha256: str, head: ChainHead) -> UUID:
        why = f"audit-export:{manifest_sha256}"
        return seal_bundle(log, manifest_sha256, head, Cause(exported_at, SEAL_ACTOR, why, why))

    return seal


CHAIN_HEADER = "# position\tcount\tdigest\tlink\tin_events\tevent"
TARGZ_LEVEL = 1
"""gzip level of a .tar.gz bundle: hex digests and JSON compress well at 1, and fast."""


class ExportRefusedError(Exception):
    """The export was refused; nothing was written."""


class ExportTargetError(ExportRefusedError):
    """The export's target exists, or its directory does not."""


class LogNotChainedError(ExportRefusedError):
    """The log does not match its chain: a bundle is only made from a log that verifies."""


@dataclass(frozen=True)
class Provenance:
    """Where a bundle comes from: the code, its configuration, when it was made."""

    code_version: str
    config_sha256: str
    exported_at: datetime


@dataclass(frozen=True)
class ExportOutcome:
    """A written bundle: where, its manifest, how long it took."""

    path: Path
    manifest: dict[str, Any]
    seconds: float


def check_target(out: Path) -> None:
    """Refuse a target the export would overwrite or could not write.

    Raises:
        ExportTargetError: `out` exists (a non-empty directory or any file), or its parent
            directory does not.
    """
    if out.is_dir() and any(out.iterdir()):
        raise ExportTargetError(f"{out} is a directory that is not empty; name a new one")
    if out.exists() and not out.is_dir():
        raise ExportTargetError(f"{out} exists; the export never overwrites a file")
    if not out.parent.is_dir():
        raise ExportTargetError(f"{out.parent} is not a directory; create it first")


def is_archive(out: Path) -> bool:
    """Return True when `out` names a .tar.gz bundle (else a directory)."""
    return out.name.endswith((".tar.gz", ".tgz"))


def export_bundle(
    reader: ChainReader,
    selection: BundleSelection,
    out: Path,
    provenance: Provenance,
    seal: Sealer,
    on_progress: Callable[[int, int], None] | None = None,
) -> ExportOutcome:
    """Write the bundle of `selection` to `out` (a new directory or a .tar.gz file).

    `seal` records the manifest's sha256 in the log (`ledger_sealer`); the bundle's final head
    is that seal's link (`manifest["seal"]`), the head to keep elsewhere.

    Raises:
        ExportTargetError: the target exists or cannot be written.
        LogNotChainedError: the log does not match its chain (the message names the first
            event that does not). Nothing is written in either case.
    """
    started = time.perf_counter()
    check_target(out)
    name = out.name.removesuffix(".tar.gz").removesuffix(".tgz")
    work = out.parent / f".{name}.partial"
    shutil.rmtree(work, ignore_errors=True)
    staging = work / name
    staging.mkdir(parents=True)
    try:
        manifest = _write(reader, selection, BundleFiles(staging), provenance, seal, on_progress)
        if is_archive(out):
            _pack(staging, work / out.name)
            (work / out.name).rename(out)
        else:
            if out.is_dir():
                out.rmdir()
            staging.rename(out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return ExportOutcome(out, manifest, time.perf_counter() - started)


def _pack(staging: Path, archive: Path) -> None:
    names = [
        *ARCHIVE_ORDER,
        *sorted(p.name for p in staging.iterdir() if p.name not in ARCHIVE_ORDER),
    ]
    with tarfile.open(archive, "w:gz", compresslevel=TARGZ_LEVEL) as tar:
        for file_name in names:
            tar.add(staging / file_name, arcname=f"{staging.name}/{file_name}")


def _write(
    reader: ChainReader,
    selection: BundleSelection,
    files: BundleFiles,
    provenance: Provenance,
    seal: Sealer,
    on_progress: Callable[[int, int], None] | None,
) -> dict[str, Any]:
    sink = _BundleSink(selection, files.open("events.jsonl"), files.open("chain.tsv"))
    try:
        # A bundle holds events, not snapshots (a cache of what they load to): `ledger
        # audit verify` checks those, the export need not pay for it.
        outcome = reader.verify(
            on_chained=sink.chained,
            on_snapshot=sink.snapshot,
            on_progress=on_progress,
            check_snapshots=False,
        )
    except BaseException:
        sink.discard()
        raise
    if outcome.chain_break is not None:
        sink.discard()
        raise LogNotChainedError(
            f"the log does not match its chain at {outcome.chain_break.describe()}; no bundle "
            "was written (ledger audit verify names the same event)"
        )
    if sink.count == 0 and selection.is_bounded:
        sink.discard()
        raise InvalidExportSelectionError(
            f"the selection {selection.describe()} holds no event of the log (positions 1 to "
            f"{outcome.position}); no bundle was written"
        )
    files.close("events.jsonl", sink.events_file)
    files.close("chain.tsv", sink.chain_file)
    for table in sink.summaries.tables():
        files.csv(table.file_name, table.header, table.rows)
    files.copy("verify_bundle.py", VERIFIER)
    files.text("README.txt", README)
    head = {"position": outcome.position, "count": outcome.count, "link": outcome.link}
    body = {
        "format": BUNDLE_FORMAT,
        "link_rule": LINK_RULE,
        "genesis_link": GENESIS_LINK,
        "exported_at": _both_clocks(provenance.exported_at),
        "code_version": provenance.code_version,
        "config_sha256": provenance.config_sha256,
        "selection": selection.as_dict(),
        "events": sink.events_summary(),
        "chain": {
            "rows": outcome.count,
            "head": head,
            "log_at_export": None if sink.status is None else sink.status.as_dict(),
            "checkpoints": outcome.checkpoints_checked,
        },
    }
    manifest = {**body, "files": dict(sorted(files.entries.items()))}
    sealed_sha256 = verify_bundle.manifest_sha256(manifest)
    head_before = ChainHead(outcome.position, outcome.link, outcome.count)
    seal_id = seal(sealed_sha256, head_before)
    try:
        trail = reader.chained_through(head_before, str(seal_id))
    except ChainNotFollowedError as error:
        raise LogNotChainedError(
            f"the bundle's seal cannot be read back from the log ({error}); no bundle was written"
        ) from None
    # Written after the manifest is sealed, so not among its files: the chain proves them.
    rows, line = files.open("seal.tsv"), files.open("seal.jsonl")
    rows.line(CHAIN_HEADER)
    for event, digest, link, count in trail:
        is_seal = event is trail[-1][0]
        name = event.names() if is_seal else ""
        rows.line(f"{event.position}\t{count}\t{digest}\t{link}\t{'e' if is_seal else '-'}\t{name}")
    line.line(trail[-1][0].canonical)
    rows.close()
    line.close()
    last = trail[-1]
    manifest["seal"] = {
        "position": last[0].position,
        "count": last[3],
        "link": last[2],
        "manifest_sha256": sealed_sha256,
    }
    files.manifest(manifest)
    return manifest


def _both_clocks(at: datetime) -> dict[str, str]:
    utc = at.astimezone(UTC)
    return {"utc": utc.isoformat(), "kst": to_kst(utc).isoformat()}


class _BundleSink:
    """Takes each verified event of the walk and writes it where it belongs."""

    def __init__(self, selection: BundleSelection, events: HashedFile, chain: HashedFile) -> None:
        self.selection = selection
        self.needs_fields, self.names_aggregates = (
            selection.needs_fields,
            selection.names_aggregates,
        )
        self.events_file, self.chain_file = events, chain
        self.summaries = AccountingSummaries()
        self.created: dict[str, dict[str, Any]] = {}
        self.count = 0
        self.by_topic: dict[str, int] = {}
        self.first: str | None = None
        self.last: str | None = None
        self.status: ChainStatus | None = None
        chain.line(CHAIN_HEADER)

    def snapshot(self, status: ChainStatus) -> None:
        self.status = status

    def chained(self, event: LoggedEvent, digest: str, link: str, count: int) -> None:
        selection = self.selection
        selected = selection.holds_position(event.position)
        fields: dict[str, Any] | None = None
        if self.names_aggregates and event.originator_version == 1:
            fields = self._body(event)
            self.created[event.originator_id] = {
                k: fields[k] for k in ("market", "strategy_id", "strategies") if k in fields
            }
        if selected and self.needs_fields:
            fields = fields or self._body(event)
            selected = selection.selects(fields, self.created.get(event.originator_id))
        topic = event.topic
        about_orders = topic.startswith("order.") or topic == "ledger.fill.settled"
        if selected:
            self.events_file.line(event.canonical)
            self.count += 1
            self.by_topic[topic] = self.by_topic.get(topic, 0) + 1
            if self.first is None:
                self.first = event.canonical
            self.last = event.canonical
            if about_orders:
                self.summaries.add(fields or self._body(event))
            name = event.names()
        else:
            # An order left out by the range may have fills in it (placed before the range):
            # its terms are kept for fills.csv. One of another market or strategy never does.
            if topic == "order.placed" and not self.beyond_range(event.position):
                fields = fields or self._body(event)
                if selection.names_ours(fields):
                    self.summaries.remember(fields)
            name = ""
        mark = "e" if selected else "-"
        self.chain_file.line(f"{event.position}\t{count}\t{digest}\t{link}\t{mark}\t{name}")

    def beyond_range(self, position: int) -> bool:
        """Return True for a position after the selection's last (nothing later is selected)."""
        last = self.selection.to_position
        return last is not None and position > last

    @staticmethod
    def _body(event: LoggedEvent) -> dict[str, Any]:
        return event.body if event.body is not None else json.loads(event.canonical)

    def events_summary(self) -> dict[str, Any]:
        def ends(canonical: str | None) -> dict[str, Any] | None:
            if canonical is None:
                return None
            fields = json.loads(canonical)
            return {
                "position": fields["position"],
                "occurred_at": fields.get("occurred_at"),
                "occurred_at_kst": fields.get("occurred_at_kst"),
            }

        return {
            "count": self.count,
            "first": ends(self.first),
            "last": ends(self.last),
            "by_topic": dict(sorted(self.by_topic.items())),
        }

    def discard(self) -> None:
        for file in (self.events_file, self.chain_file):
            file.discard()


README = """\
upbit-ledger audit bundle
=========================

An export of the upbit-ledger event log with the proof that it is whole and unchanged.

manifest.json    what was exported (selection, counts, first and last event in UTC and KST),
                 the code version and configuration hash, the chain's head, every file's sha256
events.jsonl     the selected events, one per line, each exactly its canonical audit JSON:
                 position, topic, originator_id, originator_version, occurred_at (UTC),
                 occurred_at_kst, actor, causation_id, correlation_id and its own fields
chain.tsv        every event of the log from the first to the head, in order:
                 position, count, digest = sha256(its canonical JSON), link, whether its line is
                 in events.jsonl (e or -), and its name when it is
seal.tsv         the rows after the head up to the export's seal, the seal (e) last
seal.jsonl       the seal: an audit.bundle.sealed event naming the manifest's sha256 (of the
                 manifest less its "seal", as sorted compact JSON), recorded in the log
orders.csv, fills.csv, daily_pnl.csv
                 summaries for an accountant (daily P&L per trading day; the day opens at
                 09:00 KST = 00:00 UTC)
verify_bundle.py a verifier that needs nothing but python3 (3.9 or newer)

Verify:   python3 verify_bundle.py .
          python3 verify_bundle.py . --head POSITION:LINK    (a head you wrote down earlier)
          python3 verify_bundle.py older-bundle newer-bundle (both on one chain)

The link rule: digest_n = sha256(line n, UTF-8);
               link_n = sha256(bytes(link_{n-1}) + bytes(digest_n));
               link_0 = sha256("upbit-ledger audit chain v2").
Events outside the selection are proven by their digests. Keep the seal's head
(manifest.json seal: position and link) somewhere else: a later rewrite of any event at or
before it, or of this manifest, changes that link.
"""
