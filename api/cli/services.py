"""`ledger services up|down|status`: the embedded PostgreSQL and NATS under the data dir."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from api.cli.context import JSON_OPTION, console, print_json, state_of

if TYPE_CHECKING:
    from adapters.embedded.services import EmbeddedServices, ServicesReport

app = typer.Typer(
    help="The embedded servers: PostgreSQL (<data_dir>/pg) and NATS JetStream "
    "(<data_dir>/nats), bound to 127.0.0.1. A server whose URL is configured is external "
    "and never started here.",
    no_args_is_help=True,
)


def _services(ctx: typer.Context) -> tuple[EmbeddedServices, bool, bool]:
    from api.bootstrap import embedded_services

    settings = state_of(ctx).settings()
    services = embedded_services(settings)
    return services, settings.database.url is None, settings.nats.url is None


@app.command("up")
def up(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """Start the embedded servers that are needed; reuse any already running."""
    services, postgres, nats = _services(ctx)
    if not (postgres or nats):
        console.print("database and NATS URLs are configured: nothing to start")
    report = services.up(postgres=postgres, nats=nats)
    _print(report, as_json)


@app.command("down")
def down(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """Stop what `up` (or `ledger run`) started, including a running `ledger run`."""
    services, _, _ = _services(ctx)
    _print(services.down(), as_json)


@app.command("restart")
def restart(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The server: postgres or nats.")],
    down_for: Annotated[
        float, typer.Option(help="Seconds the server stays down between its stop and start.")
    ] = 0.0,
    as_json: bool = JSON_OPTION,
) -> None:
    """Stop one embedded server and start it again on the same data dir and port.

    A fault drill as much as a fix: a running `ledger run` sees the outage, reconnects, and
    records it (docs/trading.md "Faults"). Example: ledger services restart postgres --down-for 3
    """
    services, postgres, nats = _services(ctx)
    if name not in ("postgres", "nats"):
        raise typer.BadParameter(f"server {name!r} is not one of: postgres, nats")
    if not {"postgres": postgres, "nats": nats}[name]:
        raise typer.BadParameter(f"the {name} URL is configured: that server is external")
    if not 0 <= down_for <= 3600:
        raise typer.BadParameter(f"--down-for {down_for} must be in [0, 3600] seconds")
    _print(services.restart(name, down_s=down_for), as_json)


@app.command("status")
def status(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """Show whether each embedded server runs, where, and who started it."""
    services, _, _ = _services(ctx)
    _print(services.status(), as_json)


def _print(report: ServicesReport, as_json: bool) -> None:
    if as_json:
        print_json(report.as_dict())
        return
    table = Table(title=f"services in {report.state_dir}", title_justify="left")
    for column in ("service", "running", "pid", "url", "started by up", "action"):
        table.add_column(column, overflow="fold")
    for s in report.services:
        table.add_row(
            s.name,
            "yes" if s.is_running else "no",
            str(s.pid or ""),
            s.url or "",
            "yes" if s.is_started_by_up else "no",
            s.action or "",
        )
    for p in report.processes:
        table.add_row(p.name, "yes" if p.is_running else "no", str(p.pid), "", "", p.action or "")
    console.print(table)
