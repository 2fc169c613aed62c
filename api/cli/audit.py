"""`ledger audit ...`: the tamper-evident hash chain over the event log (docs/audit.md)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from api.cli.context import JSON_OPTION, console, err_console, open_system, print_json

if TYPE_CHECKING:
    from adapters.postgres.chain_reader import ChainVerification

HOW = (
    "Every event the ledger records is chained in the transaction that records it: its link is "
    "sha256(previous link + sha256 of the event's canonical JSON), from a fixed genesis, kept "
    "in the `ledger_chain_saves` table (the view `ledger_chain_links` shows an event a row), "
    "and every 10,000 events an `audit.chain.checkpointed` event "
    "records the head in the log itself. docs/audit.md."
)

app = typer.Typer(
    help=f"Verify the event log's hash chain, show its head, export and verify bundles. {HOW}",
    no_args_is_help=True,
)


class ChainMismatchError(Exception):
    """The log and its hash chain disagree at some event (exit code 4)."""


class BundleMismatchError(Exception):
    """A bundle does not verify: an event, a chain row or a file was changed (exit code 4)."""


class BundleInputError(Exception):
    """A bundle cannot be read, or a head is malformed (exit code 2)."""


def verify(
    ctx: typer.Context,
    start: Annotated[
        int | None,
        typer.Option(
            "--from",
            min=1,
            help="Verify from this log position on, taking the chain's stored link before it "
            "as given (default: from the genesis, which proves the whole log).",
        ),
    ] = None,
    every_snapshot: Annotated[
        bool,
        typer.Option(
            "--every-snapshot",
            help="Check each snapshot against its events, not only the newest of each "
            "aggregate (the one loading uses); slower on a log with many large snapshots.",
        ),
    ] = False,
    as_json: bool = JSON_OPTION,
) -> None:
    """Recompute the hash chain from the log's events and compare it with the stored links.

    Reads the events and the chain in one consistent snapshot (writers go on) and recomputes
    every link in log order. Exit 0 with the head (position, link, count) when every event
    matches; exit 4 naming the first event that does not: its position, bus name, originator
    id and version, and what was done: `changed` (its content differs from what was chained,
    or it was replaced), `deleted` (the chain recorded an event the log no longer holds),
    `inserted` (an event the chain never recorded), `reordered` (events moved between
    positions), `chain_altered` (the chain table itself was edited; the event matches),
    `checkpoint_mismatch` (an `audit.chain.checkpointed` event names another head) or
    `snapshot_altered` (a snapshot loading would use differs from its aggregate rebuilt from
    its chained events, or has no events to the version it claims; named by aggregate id and
    version, with the first field that differs). The newest snapshot of each aggregate is the
    one loading uses and the one checked; `--every-snapshot` checks the older ones too.
    Deleting snapshots is harmless: loading replays the events.

    What this proves and what it cannot (someone who rewrites both the events and the chain
    after the last head you kept): docs/audit.md.

    Examples:
      ledger audit verify
      ledger audit verify --from 1200000 --json
      ledger audit verify --every-snapshot
    """
    with open_system(ctx, read_only=True) as system:
        reader = system.chain_reader()
        total = reader.status().log_count
        with _progress(total) as progress:
            outcome = reader.verify(
                from_position=start, on_progress=progress, every_snapshot=every_snapshot
            )
    if as_json:
        print_json(outcome.as_dict())
    else:
        where = f"position {outcome.start_position}" if outcome.start_position else "the genesis"
        if outcome.chain_break is None:
            console.print(
                Text("chain intact: ", "green")
                + Text(
                    f"{outcome.events_checked:,} events from {where} to the head at position "
                    f"{outcome.position} ({outcome.count:,} events chained), "
                    f"{outcome.checkpoints_checked:,} checkpoints, {_snapshots(outcome)}, "
                    f"in {outcome.seconds:.2f} s\n"
                    f"head link {outcome.link}"
                )
            )
    if outcome.chain_break is not None:
        raise ChainMismatchError(
            f"the chain breaks at {outcome.chain_break.describe()} "
            f"({outcome.events_checked:,} events matched before it)"
        )


def _snapshots(outcome: ChainVerification) -> str:
    if outcome.snapshots_checked is None:
        return "snapshots not checked"
    text = f"{outcome.snapshots_checked:,} snapshots matching their events"
    notes = []
    if outcome.snapshots_superseded:
        notes.append(
            f"{outcome.snapshots_superseded:,} older ones, which loading does not use, not "
            "checked: --every-snapshot"
        )
    if outcome.snapshots_unchecked:
        notes.append(f"{outcome.snapshots_unchecked:,} of aggregates created before it not rebuilt")
    return text + (f" ({'; '.join(notes)})" if notes else "")


def head(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """Show the chain's head (position, link, count) beside the log's newest position.

    Example: ledger audit head --json
    """
    with open_system(ctx, read_only=True) as system:
        found = system.chain_reader().status()
    if as_json:
        print_json(found.as_dict())
        return
    console.print(chain_line(found.as_dict()))


def chain_line(found: dict[str, object]) -> str:
    """Return the one line `ledger status` and `audit head` print about the chain."""
    state = "every event chained" if found["is_caught_up"] else "BEHIND the log"
    link = str(found["link"])
    return (
        f"audit chain: head at position {found['position']} ({found['count']:,} events, link "
        f"{link[:16]}…), log at position {found['log_position']}: {state}"
    )


def export(
    ctx: typer.Context,
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            metavar="DIR|FILE.tar.gz",
            help="A new directory, or a FILE.tar.gz; never overwritten.",
            show_default=False,
        ),
    ],
    start: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="First event: a log position, a date (that trading day, from 09:00 KST) or an "
            "ISO instant with offset.",
        ),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option(
            "--to",
            help="Last event: a position (inclusive), a date (through that trading day) or an "
            "instant (exclusive).",
        ),
    ] = None,
    market: Annotated[
        str | None, typer.Option(help="Only events of this market (and account-wide ones).")
    ] = None,
    strategy: Annotated[
        str | None, typer.Option(help="Only events of this strategy (and account-wide ones).")
    ] = None,
    as_json: bool = JSON_OPTION,
) -> None:
    """Export the log as an audit bundle an auditor checks offline with only python3.

    The export first verifies the whole chain in one snapshot (writers go on) and refuses, exit
    4, naming the event, if the log does not match it. The bundle holds: manifest.json (the
    selection, counts, the first and last event in UTC and KST, code version, configuration
    hash, the chain's head, every file's sha256), events.jsonl (the selected events as their
    canonical JSON: times in UTC and KST, actor, causation and correlation ids), chain.tsv
    (every event of the log, selected or not: position, count, digest, link, so the chain is
    recomputed from the genesis and a sub-range proves its place in the whole), orders.csv,
    fills.csv, daily_pnl.csv, and verify_bundle.py. The export then records the manifest's
    sha256 in the log (`audit.bundle.sealed`, chained like any event) and adds seal.tsv and
    seal.jsonl: the printed head is that seal's; keep it somewhere else, and a later edit of
    the manifest (selection, code version, counts) or of what it left out is named.

    Examples:
      ledger audit export --out audit-2026-03.tar.gz --from 2026-03-01 --to 2026-03-31
      ledger audit export --out ./bundle --strategy grid
      ledger audit export --out all.tar.gz
      tar xzf all.tar.gz && python3 -I all/verify_bundle.py all.tar.gz   # anywhere
    """
    from adapters.audit_bundle.export import check_target, export_bundle, ledger_sealer
    from api.cli.output_file import check_writable_parent
    from api.provenance import provenance
    from domain.audit.selection import BundleSelection

    selection = BundleSelection.parse(start, end, market, strategy)
    check_target(out)  # before the log is opened: a bad target starts no server
    check_writable_parent(out, "--out")
    with open_system(ctx) as system:
        reader = system.chain_reader()
        total = reader.status().log_count
        made = provenance(system.settings)
        with _progress(total, "exporting (verifying the chain)") as progress:
            outcome = export_bundle(
                reader,
                selection,
                out,
                made,
                ledger_sealer(system.trading, made.exported_at),
                on_progress=progress,
            )
    manifest = outcome.manifest
    if as_json:
        print_json({"path": str(outcome.path), "seconds": round(outcome.seconds, 3), **manifest})
        return
    events, head = manifest["events"], manifest["seal"]
    span = ""
    if events["first"] is not None:
        span = (
            f", positions {events['first']['position']}..{events['last']['position']} "
            f"({events['first']['occurred_at_kst']} .. {events['last']['occurred_at_kst']} KST)"
        )
    console.print(
        Text("bundle written: ", "green")
        + Text(
            f"{outcome.path}: {events['count']:,} events in full{span}, "
            f"{manifest['chain']['rows']:,} chained, in {outcome.seconds:.1f} s\n"
            f"sealed at position {head['position']} (#{head['count']:,}) link {head['link']}\n"
            "keep this head elsewhere (it proves the events and the manifest); verify with: "
            f"ledger audit verify-bundle --head {head['position']}:{head['link']} "
            f"ledger audit verify-bundle {outcome.path}"
        )
    )


def verify_bundle(
    bundles: Annotated[
        list[Path],
        typer.Argument(
            help="Bundle directories or .tar.gz files.", metavar="BUNDLE", show_default=False
        ),
    ],
    heads: Annotated[
        list[str] | None,
        typer.Option(
            "--head",
            metavar="POSITION:LINK",
            help="A head written down earlier, POSITION:LINK; it must lie on each bundle's chain. "
            "Repeatable.",
        ),
    ] = None,
    as_json: bool = JSON_OPTION,
) -> None:
    """Verify audit bundles offline, the way their own verify_bundle.py does (no database).

    Recomputes the chain from the genesis over chain.tsv and on through seal.tsv to the
    export's seal, checks each line of events.jsonl against its digest in the chain's order,
    that the lines in full are those the selection names, the checkpoints, the manifest's head,
    that the manifest is the one sealed in the log, and every file's sha256; with several
    bundles, that they lie on one chain. Exit 0 when all hold, 4 naming the first event that
    does not (changed, deleted, inserted, reordered, left_out, selection_mismatch, or a chain
    row, the manifest or a file altered), 2 when a bundle cannot be read. Give the seal's head
    you kept (--head): without it a bundle only proves it is consistent.

    Examples:
      ledger audit verify-bundle audit-2026-03.tar.gz
      ledger audit verify-bundle march.tar.gz april.tar.gz --head 1200000:9f86d08…
    """
    import argparse

    from adapters.audit_bundle import verify_bundle as verifier

    try:
        given = [verifier.parse_head(h) for h in heads or []]
        reports = verifier.verify_all([str(b) for b in bundles], given)
    except (verifier.UnreadableBundleError, argparse.ArgumentTypeError) as error:
        raise BundleInputError(str(error)) from None
    if as_json:
        print_json([r.as_dict() for r in reports])
    else:
        for r in reports:
            if r.intact:
                console.print(
                    Text("bundle intact: ", "green")
                    + Text(
                        f"{r.path}: {r.events:,} events in full, {r.chain_rows:,} chained, "
                        f"{r.checkpoints} checkpoints; head at position {r.head['position']} "
                        f"(#{r.head['count']:,}) link {r.head['link']}"
                    )
                )
    broken = [r for r in reports if not r.intact]
    if broken:
        raise BundleMismatchError(
            "; ".join(
                f"{r.path}: {r.findings[0].describe()}"
                + (f" (and {len(r.findings) - 1} more)" if len(r.findings) > 1 else "")
                for r in broken
            )
        )


@contextmanager
def _progress(
    total: int, what: str = "verifying the chain"
) -> Iterator[Callable[[int, int], None] | None]:
    """Yield a progress callback on a terminal (None otherwise)."""
    if not console.is_terminal:
        yield None
        return
    from rich.progress import Progress

    with Progress(console=err_console, transient=True) as progress:
        task = progress.add_task(what, total=total)

        def update(done: int, _log_position: int) -> None:
            progress.update(task, completed=done)

        yield update


app.command("verify")(verify)
app.command("head")(head)
app.command("export")(export)
app.command("verify-bundle")(verify_bundle)
