"""`ledger projections status|rebuild|retry`, and `ledger relay` / `ledger project` (processes)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from api.cli.context import JSON_OPTION, console, err_console, open_system, print_json, state_of

if TYPE_CHECKING:
    from api.bootstrap import System

app = typer.Typer(
    help="The read models: how far each has applied the log, rebuilding one from the log (and "
    "verifying it against the live tables), and resuming one that stopped on an event.",
    no_args_is_help=True,
)


class ProjectionMismatchError(Exception):
    """A rebuilt read model differs from the live one (exit code 4)."""


def _names(name: str | None, every: bool) -> list[str]:
    from projections.catalogue import PROJECTIONS, projection_named

    if every == (name is not None):
        raise typer.BadParameter(
            f"name one read model or give --all (read models: {', '.join(PROJECTIONS)})"
        )
    if name is None:
        return list(PROJECTIONS)
    try:
        projection_named(name)
    except KeyError as error:
        raise typer.BadParameter(str(error.args[0])) from None
    return [name]


@app.command("status")
def status(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """Show each read model's position in the log, how far behind it is, and any parked event.

    Example: ledger projections status --json
    """
    from api.bootstrap import migrator

    with open_system(ctx, read_only=True) as system:
        migrator(system.settings, start_embedded=False).up()
        rows = _status_rows(system)
    if as_json:
        print_json(rows)
        return
    table = Table(title="read models")
    for column in ("read model", "position", "log head", "behind", "stopped at"):
        table.add_column(column)
    for row in rows:
        parked = row["parked"]
        stopped = "" if parked is None else f"{parked['position']} {parked['bus_name']}"
        table.add_row(
            row["name"], str(row["position"]), str(row["head"]), str(row["behind"]), stopped
        )
    console.print(table)
    for row in rows:
        if row["parked"] is not None:
            console.print(f"{row['name']}: {row['parked']['error']}")


def _status_rows(system: System) -> list[dict[str, Any]]:
    from api.bootstrap import read_model_store
    from projections.catalogue import PROJECTIONS

    head = system.trading.recorder.max_notification_id() or 0
    store = read_model_store(system.settings, start_embedded=False)
    with store.connect() as connection:
        positions = dict(
            connection.execute("SELECT projection, last_position FROM projection_tracking")
        )
        parked = {
            row[0]: {"position": row[1], "bus_name": row[2], "error": row[3]}
            for row in connection.execute(
                "SELECT projection, position, bus_name, error FROM projection_parked"
            )
        }
    return [
        {
            "name": name,
            "position": positions.get(name, 0),
            "head": head,
            "behind": head - positions.get(name, 0),
            "parked": parked.get(name),
        }
        for name in PROJECTIONS
    ]


@app.command("rebuild")
def rebuild(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="The read model (see `status`).")] = None,
    every: Annotated[bool, typer.Option("--all", help="Every read model.")] = False,
    verify: Annotated[
        bool,
        typer.Option(
            "--verify",
            help="Do not replace anything: rebuild beside the live tables up to their position "
            "(held still meanwhile, if the projector runs) and compare table hashes (exit 4 on a "
            "difference).",
        ),
    ] = False,
    as_json: bool = JSON_OPTION,
) -> None:
    """Recompute read models from the event log (no side effects: only their tables change).

    Without --verify the rebuilt tables replace the live ones in one transaction; the
    projector carries on from the rebuilt position. With --verify the live tables stay, and
    each is compared with its rebuild. Examples:

        ledger projections rebuild orders
        ledger projections rebuild --all --verify
    """
    from adapters.postgres.projection_writer import LogReader
    from adapters.postgres.read_model_rebuild import drop_shadows, swap
    from adapters.postgres.read_model_rebuild import rebuild as rebuild_from_log
    from adapters.postgres.read_model_rebuild import verify as verify_from_log
    from api.bootstrap import migrator, read_model_store
    from projections.catalogue import projection_named

    names = _names(name, every)
    report: list[dict[str, Any]] = []
    with open_system(ctx) as system:
        migrator(system.settings).up()
        store = read_model_store(system.settings, start_embedded=False)
        log = LogReader(system.trading.recorder)
        decode = system.trading.mapper.to_domain_event
        positions = {row["name"]: row["position"] for row in _status_rows(system)}
        head = system.trading.recorder.max_notification_id() or 0
        for each in names:
            projection = projection_named(each)
            with _progress(as_json) as progress:
                total = max(positions[each] if verify else head, 1)
                task = progress.add_task(each, total=total)

                def advance(position: int, task: Any = task) -> None:
                    progress.update(task, completed=position)

                if verify:
                    position, tables = verify_from_log(
                        store, projection, log, decode, on_progress=advance
                    )
                else:
                    position = rebuild_from_log(
                        store, projection, log, decode, upto=head, on_progress=advance
                    )
                progress.update(task, completed=total)
            if verify:
                drop_shadows(store, projection)
                report.append(
                    {
                        "name": each,
                        "position": position,
                        "tables": [
                            {
                                "table": t.table,
                                "live_rows": t.live_rows,
                                "rebuilt_rows": t.rebuilt_rows,
                                "equal": t.equal,
                            }
                            for t in tables
                        ],
                    }
                )
            else:
                swap(store, projection, position)
                report.append({"name": each, "position": position, "replaced": True})
    _print_rebuild(report, as_json)
    differing = [
        f"{r['name']}.{t['table']}" for r in report for t in r.get("tables", []) if not t["equal"]
    ]
    if differing:
        raise ProjectionMismatchError(
            "rebuilt from the log, these tables differ from the live ones: "
            + ", ".join(differing)
            + " (rebuild them without --verify to replace them)"
        )


def _print_rebuild(report: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        print_json(report)
        return
    for entry in report:
        if entry.get("replaced"):
            console.print(
                f"{entry['name']}: rebuilt up to position {entry['position']}, swapped in"
            )
            continue
        for t in entry["tables"]:
            verdict = "identical" if t["equal"] else "DIFFERENT"
            console.print(
                f"{entry['name']}: {t['table']} {verdict} ({t['live_rows']} live rows, "
                f"{t['rebuilt_rows']} rebuilt, up to position {entry['position']})"
            )


def _progress(quiet: bool) -> Progress:
    return Progress(
        TextColumn("rebuilding {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        disable=quiet,
        transient=True,
    )


@app.command("retry")
def retry(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The read model that stopped.")],
) -> None:
    """Clear a stopped read model's parked event, so its projector tries it again.

    Fix the cause first (e.g. deploy the corrected projection); the projector then resumes
    at the parked event when it next runs.
    """
    from api.bootstrap import migrator, read_model_store

    (only,) = _names(name, False)
    with open_system(ctx) as system:
        migrator(system.settings).up()
        store = read_model_store(system.settings, start_embedded=False)
        with store.connect() as connection:
            row = connection.execute(
                "DELETE FROM projection_parked WHERE projection = %s RETURNING position, bus_name",
                (only,),
            ).fetchone()
    if row is None:
        raise typer.BadParameter(f"read model {only} has no parked event: nothing to retry")
    console.print(f"{only}: event {row[0]} ({row[1]}) will be tried again")


def relay(ctx: typer.Context) -> None:
    """Publish the event log to NATS JetStream, in order, exactly once, until Ctrl-C.

    `ledger run` does this already; run it alone to give the relay its own process (only one
    relay per environment publishes; a second one publishes nothing twice).
    """
    _run_pipeline(ctx, relay=True, names=[])


def project(
    ctx: typer.Context,
    names: Annotated[
        list[str] | None, typer.Argument(help="Read models to keep (default: all).")
    ] = None,
) -> None:
    """Keep read models up to date from NATS JetStream until Ctrl-C (one process per group).

    Example: ledger project orders positions
    """
    from projections.catalogue import PROJECTIONS

    chosen = names or list(PROJECTIONS)
    for each in chosen:
        _names(each, False)
    _run_pipeline(ctx, relay=False, names=chosen)


def _run_pipeline(ctx: typer.Context, *, relay: bool, names: list[str]) -> None:
    import asyncio
    import signal

    from api.bootstrap import bootstrap, cqrs_pipeline, migrator

    settings = state_of(ctx).settings()
    system = bootstrap(settings)
    try:
        migrator(settings).up()
        pipeline = cqrs_pipeline(system, relay=relay, projections=names)
        pipeline.on_notice = err_console.print
        parts = (["relay"] if relay else []) + names
        console.print(f"running {', '.join(parts)} for env {settings.env} (Ctrl-C stops)")

        async def main() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await pipeline.run(stop)

        try:
            asyncio.run(main())
        finally:
            pipeline.close()
        for stopped in pipeline.stopped_projections:
            err_console.print(stopped)
        if pipeline.stopped_projections:
            raise typer.Exit(4)
    finally:
        system.close()
