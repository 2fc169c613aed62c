"""`ledger migrate up|down|status`: versioned SQL for everything but the library's event table."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from api.cli.context import JSON_OPTION, console, print_json, state_of

if TYPE_CHECKING:
    from adapters.postgres.migrator import Migrator

app = typer.Typer(
    help="Database migrations (files NNNN_name.up.sql / .down.sql in migrations/). The event "
    "table itself is created by the event store.",
    no_args_is_help=True,
)


def _migrator(ctx: typer.Context, *, read_only: bool = False) -> Migrator:
    from api.bootstrap import bootstrap, migrator

    settings = state_of(ctx).settings()
    start = not read_only  # `status` never starts the server
    bootstrap(settings, start_embedded=start).close()  # the schema and event table views read
    return migrator(settings, start_embedded=start)


@app.command("up")
def up(
    ctx: typer.Context,
    to: Annotated[int | None, typer.Option(help="Stop at this version (default: latest).")] = None,
) -> None:
    """Apply every pending migration (or up to --to), each in its own transaction."""
    applied = _migrator(ctx).up(to)
    for m in applied:
        console.print(f"applied {m.version:04d}_{m.name}")
    console.print("database is up to date" if not applied else f"{len(applied)} applied")


@app.command("down")
def down(
    ctx: typer.Context,
    to: Annotated[
        int | None, typer.Option(help="Roll back every version above this one (default: one).")
    ] = None,
    roll_back_all: Annotated[bool, typer.Option("--all", help="Roll back every version.")] = False,
) -> None:
    """Roll back the newest migration (or down to --to, or --all)."""
    migrator = _migrator(ctx)
    if roll_back_all:
        target = 0
    elif to is not None:
        target = to
    else:
        applied = [s.version for s in migrator.status() if s.is_applied]
        target = applied[-2] if len(applied) > 1 else 0
    rolled = migrator.down(target)
    for m in rolled:
        console.print(f"rolled back {m.version:04d}_{m.name}")
    console.print("nothing to roll back" if not rolled else f"{len(rolled)} rolled back")


@app.command("status")
def status(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """List every migration and whether it is applied."""
    rows = _migrator(ctx, read_only=True).status()
    if as_json:
        print_json([vars(r) for r in rows])
        return
    table = Table(title="migrations", title_justify="left")
    for column in ("version", "name", "applied at (UTC)", "file matches"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            f"{r.version:04d}",
            r.name,
            r.applied_at.isoformat() if r.applied_at else "pending",
            "yes" if r.checksum_ok else ("no file" if not r.has_file else "CHANGED"),
        )
    console.print(table)
