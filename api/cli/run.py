"""`ledger run`: start the embedded stack, migrate, and serve the API until stopped."""

from __future__ import annotations

import os
import socket
from typing import Annotated

import typer
from rich.panel import Panel

from api.cli.context import console, state_of


def run(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="API bind address (default: api.host).")] = None,
    port: Annotated[int | None, typer.Option(help="API port (default: api.port).")] = None,
) -> None:
    """Run the system: embedded servers, migrations, relay, read models and the HTTP API.

    With no database or NATS URL configured, the servers run from Python packages under the
    data dir, bound to 127.0.0.1. The relay publishes the log to JetStream and the projectors
    keep the read models (`ledger projections status`). The API serves /health and its docs
    at /docs.

    Ctrl-C stops the API and leaves the servers running for a fast restart;
    `ledger services down` stops everything, this process included.
    """
    import uvicorn

    from adapters.embedded.services import EmbeddedServices
    from api.bootstrap import bootstrap, cqrs_pipeline, log_stream, migrator
    from api.http.app import create_app
    from api.settings import redacted

    settings = state_of(ctx).settings()
    bind_host, bind_port = host or settings.api.host, port or settings.api.port
    _require_free_port(bind_host, bind_port)
    services = EmbeddedServices(settings.data_dir)
    need_pg, need_nats = settings.database.url is None, settings.nats.url is None
    with console.status("starting the embedded servers…"):
        report = services.up(postgres=need_pg, nats=need_nats) if need_pg or need_nats else None
    system = bootstrap(settings, start_embedded=False, with_queries=True)
    pipeline = None
    try:
        applied = migrator(settings, start_embedded=False).up()
        pipeline = cqrs_pipeline(system, start_embedded=False)
        pipeline.start_in_background()
        services.register_process("ledger-run", os.getpid())
        urls = {s.name: s.url for s in report.services} if report else {}
        database = urls.get("postgres") or redacted(settings)["database"]["url"]
        nats_url = urls.get("nats") or settings.nats.url
        lines = [
            f"event log   {database}  (schema {settings.database.schema_name}, "
            f"position {system.trading.recorder.max_notification_id() or 0})",
            f"NATS        {nats_url}",
            f"migrations  {len(applied)} applied now; all up to date",
            f"CQRS        relay -> JetStream stream {log_stream(settings).name} -> "
            f"{len(pipeline.projectors)} read models (`ledger projections status`)",
            f"API         http://{bind_host}:{bind_port}  (health: /health, docs: /docs)",
            f"data        {settings.data_dir.resolve()}  (server logs beside the data)",
            "stop        Ctrl-C stops the API; `ledger services down` stops everything",
        ]
        console.print(Panel("\n".join(lines), title="upbit-ledger is running", expand=False))
        uvicorn.run(
            create_app(system), host=bind_host, port=bind_port, log_level=settings.log_level
        )
    finally:
        services.unregister_process("ledger-run")
        if pipeline is not None:
            pipeline.stop_background()
            pipeline.close()
        system.close()


def _require_free_port(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            from api.bootstrap import ServiceUnavailableError

            raise ServiceUnavailableError(
                f"API address {host}:{port} is not available ({error.strerror}); "
                "choose another with --port or LEDGER_API__PORT"
            ) from None


def api(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="API bind address (default: api.host).")] = None,
    port: Annotated[int | None, typer.Option(help="API port (default: api.port).")] = None,
) -> None:
    """Serve only the HTTP API (commands and queries) over the configured database.

    For a scaled-out deployment where the relay and the projectors run as their own services
    (`ledger relay`, `ledger project`). Commands need the bearer token LEDGER_API__TOKEN; the
    OpenAPI document is at /openapi.json and the docs at /docs.
    """
    import uvicorn

    from api.bootstrap import bootstrap, migrator
    from api.http.app import create_app

    settings = state_of(ctx).settings()
    bind_host, bind_port = host or settings.api.host, port or settings.api.port
    _require_free_port(bind_host, bind_port)
    system = bootstrap(settings, with_queries=True)
    try:
        migrator(settings).up()
        token = "set" if settings.api.token is not None else "NOT set: commands answer 503"
        console.print(f"API on http://{bind_host}:{bind_port} (docs /docs); command token {token}")
        uvicorn.run(
            create_app(system), host=bind_host, port=bind_port, log_level=settings.log_level
        )
    finally:
        system.close()
