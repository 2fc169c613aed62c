"""`ledger audit ...`: the tamper-evident hash chain over the event log (docs/audit.md)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from api.cli.context import JSON_OPTION, console, err_console, open_system, print_json

if TYPE_CHECKING:
    from adapters.postgres.chain_reader import ChainReader
    from api.bootstrap import System

HOW = (
    "Every event the ledger records is chained in the transaction that records it: its link is "
    "sha256(previous link + the event's canonical JSON), from a fixed genesis, kept in the "
    "`ledger_chain` table, and every 10,000 events an `audit.chain.checkpointed` event records "
    "the head in the log itself. docs/audit.md."
)

app = typer.Typer(
    help=f"Verify the event log's hash chain and show its head. {HOW}", no_args_is_help=True
)


class ChainMismatchError(Exception):
    """The log and its hash chain disagree at some event (exit code 4)."""


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
    as_json: bool = JSON_OPTION,
) -> None:
    """Recompute the hash chain from the log's events and compare it with the stored links.

    Reads the events and the chain in one consistent snapshot (writers go on) and recomputes
    every link in log order. Exit 0 with the head (position, link, count) when every event
    matches; exit 4 naming the first event that does not: its position, bus name, originator
    id and version, and what was done: `changed` (its content differs from what was chained,
    or it was replaced), `deleted` (the chain recorded an event the log no longer holds),
    `inserted` (an event the chain never recorded), `reordered` (events moved between
    positions), `chain_altered` (the chain table itself was edited; the event matches) or
    `checkpoint_mismatch` (an `audit.chain.checkpointed` event names another head).

    What this proves and what it cannot (someone who rewrites both the events and the chain
    after the last head you kept): docs/audit.md.

    Examples:
      ledger audit verify
      ledger audit verify --from 1200000 --json
    """
    with open_system(ctx) as system:
        reader = _reader(system)
        total = reader.status().log_count
        with _progress(total) as progress:
            outcome = reader.verify(from_position=start, on_progress=progress)
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
                    f"{outcome.checkpoints_checked:,} checkpoints, in {outcome.seconds:.2f} s\n"
                    f"head link {outcome.link}"
                )
            )
    if outcome.chain_break is not None:
        raise ChainMismatchError(
            f"the chain breaks at {outcome.chain_break.describe()} "
            f"({outcome.events_checked:,} events matched before it)"
        )


def head(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """Show the chain's head (position, link, count) beside the log's newest position.

    Example: ledger audit head --json
    """
    with open_system(ctx) as system:
        found = _reader(system).status()
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


def _reader(system: System) -> ChainReader:
    from adapters.postgres.chain_reader import ChainReader
    from api.bootstrap import database_conninfo

    settings = system.settings
    return ChainReader(database_conninfo(settings), settings.database.schema_name)


@contextmanager
def _progress(total: int) -> Iterator[Callable[[int, int], None] | None]:
    """Yield a progress callback on a terminal (None otherwise)."""
    if not console.is_terminal:
        yield None
        return
    from rich.progress import Progress

    with Progress(console=err_console, transient=True) as progress:
        task = progress.add_task("verifying the chain", total=total)

        def update(done: int, _log_position: int) -> None:
            progress.update(task, completed=done)

        yield update


app.command("verify")(verify)
app.command("head")(head)
