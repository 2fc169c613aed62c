"""`ledger run`: start the embedded stack, migrate, and serve the API until stopped."""

from __future__ import annotations

import os
import threading
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.panel import Panel

from api.cli import run_parts
from api.cli.context import ALLOW_NON_KRW_OPTION, console, state_of
from api.cli.risk_options import (
    DailyLossOption,
    MaxDrawdownOption,
    MaxExposureOption,
    MaxOrderOption,
    MaxOrdersPerMinuteOption,
    parse_limits,
)

if TYPE_CHECKING:
    from domain.risk.limits import Limits


EXCHANGES = ("paper", "sandbox", "upbit")
ROLES = ("all", "trading")


def run(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="API bind address (default: api.host).")] = None,
    port: Annotated[
        int | None,
        typer.Option(help="API port (default: api.port).", callback=run_parts.checked_port),
    ] = None,
    exchange: Annotated[
        str,
        typer.Option(
            help="Where orders go: paper (the paper fill model on Upbit's live market data), "
            "sandbox (the offline Upbit-compatible exchange), upbit (real money: needs --live)."
        ),
    ] = "paper",
    live: Annotated[
        bool, typer.Option("--live", help="Trade real money on Upbit (with --exchange upbit).")
    ] = False,
    candles: Annotated[
        Path | None,
        typer.Option(help="Sandbox: the candle file it replays (starts `ledger sandbox --paced`)."),
    ] = None,
    allow_non_krw: bool = ALLOW_NON_KRW_OPTION,
    speed: Annotated[
        float, typer.Option(help="Sandbox: market minutes per wall minute, at most.")
    ] = 3000.0,
    exchange_url: Annotated[
        str | None,
        typer.Option(help="The exchange's REST URL: a running sandbox, or Upbit (upbit.rest_url)."),
    ] = None,
    until_end: Annotated[
        bool,
        typer.Option(
            "--until-end",
            help="Sandbox: stop once its candles are used up and the read models caught up.",
        ),
    ] = False,
    run_id: Annotated[
        str | None,
        typer.Option(help="The trading run to open or resume (default: per exchange/account)."),
    ] = None,
    strategies: Annotated[
        str | None, typer.Option(help="Comma-separated strategies (default: trading.strategies).")
    ] = None,
    param: Annotated[
        list[str] | None, typer.Option(help="Strategy parameter STRATEGY.NAME=VALUE, repeatable.")
    ] = None,
    capital: Annotated[
        str | None, typer.Option(help="KRW a new run gives each strategy (trading.capital_krw).")
    ] = None,
    max_order_krw: MaxOrderOption = None,
    max_exposure_krw: MaxExposureOption = None,
    daily_loss_krw: DailyLossOption = None,
    max_drawdown: MaxDrawdownOption = None,
    max_orders_per_minute: MaxOrdersPerMinuteOption = None,
    role: Annotated[
        str,
        typer.Option(
            help="all: the trading run, the relay, the read models and the API in this process; "
            "trading: only the trading run (market feed, strategies, execution, risk, "
            "reconciliation), beside `ledger relay`, `ledger project ...` and `ledger api` run "
            "as their own services."
        ),
    ] = "all",
) -> None:
    """Run the trading system: servers, migrations, read models, the API, and a trading run.

    The strategies trade KRW-BTC candle by candle as the log records the market, through the
    same code as `ledger backtest`; every signal, order, fill and risk decision is an event. A
    run is opened once and resumed by every later `ledger run` (crash-only: a restart
    re-processes the run from the log and sends nothing twice). `ledger status` shows every
    process, positions and risk state. With no database or NATS URL configured, the servers
    run from Python packages under the data dir, bound to 127.0.0.1. Ctrl-C stops; the
    servers stay up for a fast restart; `ledger services down` stops everything.

    Paper trading on Upbit's live market data (the default): ledger run

    Offline, on the sandbox, until its candles are used up: ledger run --exchange sandbox
    --candles FILE.csv.gz --speed 3000 --until-end

    Real money (keys from LEDGER_UPBIT__ACCESS_KEY / __SECRET_KEY or the secrets dir):
    ledger run --exchange upbit --live

    As separate services (one host or many, one database and NATS): ledger run --role
    trading ...; ledger relay; ledger project orders positions ... (one process per group of
    read models, each a NATS consumer); ledger api (as many as wanted).

    Risk limits (--max-order-krw, --max-exposure-krw, --daily-loss-krw, --max-drawdown,
    --max-orders-per-minute) are the account's, as `ledger risk set` sets them: given here,
    they replace the account's limits (one left out is removed) before a new run opens, or,
    for a run resumed, from the first candle recorded after the change. Without any, the
    account keeps its limits. The monitor applies them at each close exactly as `ledger
    backtest` does with the same flags.
    """
    from api.cli.trading_run import TradingRunInputError

    if exchange not in EXCHANGES:
        raise TradingRunInputError(f"--exchange {exchange!r} is not one of: {', '.join(EXCHANGES)}")
    if (exchange == "upbit") != live:
        raise TradingRunInputError(
            "real-money trading needs both --exchange upbit and --live; "
            f"--exchange {exchange} was given {'with' if live else 'without'} --live"
        )
    if exchange == "sandbox" and candles is None and exchange_url is None:
        raise TradingRunInputError("--exchange sandbox needs --candles FILE or --exchange-url URL")
    if exchange != "sandbox" and (candles is not None or until_end or allow_non_krw):
        raise TradingRunInputError(
            "--candles, --until-end and --allow-non-krw are for --exchange sandbox"
        )
    if allow_non_krw and candles is None:
        raise TradingRunInputError("--allow-non-krw is for the file --candles names")
    if not 0 < speed <= 1_000_000:
        raise TradingRunInputError(f"--speed {speed} must be in (0, 1000000]")
    if role not in ROLES:
        raise TradingRunInputError(f"--role {role!r} is not one of: {', '.join(ROLES)}")
    given = {
        "max_order_krw": max_order_krw,
        "max_exposure_krw": max_exposure_krw,
        "daily_loss_krw": daily_loss_krw,
        "max_drawdown": max_drawdown,
        "max_orders_per_minute": max_orders_per_minute,
    }
    limits = parse_limits(TradingRunInputError, **given)
    sandbox_candles = (
        None
        if candles is None
        else run_parts.checked_sandbox_candles(candles, is_non_krw_allowed=allow_non_krw)
    )
    has_limits = any(value is not None for value in given.values())
    settings = state_of(ctx).settings()
    bind_host, bind_port = host or settings.api.host, port or settings.api.port
    with ExitStack() as stack:
        run_parts.end_cleanly_on_sigterm(stack)
        _run_system(
            ctx,
            stack,
            bind_host,
            bind_port,
            exchange=exchange,
            candles=sandbox_candles,
            speed=speed,
            exchange_url=exchange_url,
            until_end=until_end,
            run_id=run_id,
            strategies=strategies,
            params=param or [],
            capital=capital,
            limits=limits if has_limits else None,
            with_services=role == "all",
        )


def _run_system(
    ctx: typer.Context,
    stack: ExitStack,
    bind_host: str,
    bind_port: int,
    *,
    exchange: str,
    candles: run_parts.SandboxCandles | None,
    speed: float,
    exchange_url: str | None,
    until_end: bool,
    run_id: str | None,
    strategies: str | None,
    params: list[str],
    capital: str | None,
    limits: Limits | None,
    with_services: bool,
) -> None:
    import uvicorn

    from adapters.trading.background import BackgroundTrading
    from api.bootstrap import (
        bootstrap,
        cqrs_pipeline,
        embedded_services,
        log_stream,
        migrator,
        run_lease,
        trading_parts,
    )
    from api.cli.trading_run import (
        exchange_credentials,
        open_or_resume,
        pipeline_status_path,
        run_inputs,
        status_path,
        write_pipeline_status,
        write_status,
    )
    from api.http.access_log import uvicorn_log_config
    from api.http.app import create_app
    from api.settings import redacted

    settings = state_of(ctx).settings()
    resolved, capital_krw = run_inputs(settings, strategies, params, capital)
    credentials = exchange_credentials(settings, exchange)
    services = embedded_services(settings)
    starting = None
    if exchange == "sandbox" and exchange_url is None:  # it comes up beside the servers
        assert candles is not None
        funds = capital_krw * len(resolved)  # the account holds every strategy's capital
        starting = stack.enter_context(run_parts.started_sandbox(candles, speed, funds))
    need_pg, need_nats = settings.database.url is None, settings.nats.url is None
    with console.status("starting the embedded servers…"):
        report = services.up(postgres=need_pg, nats=need_nats) if need_pg or need_nats else None
    system = bootstrap(settings, start_embedded=False, with_queries=with_services)
    stack.callback(system.close)
    applied = migrator(settings, start_embedded=False).up()
    # The run is held by one process: take its lease before this process changes anything.
    first_candle_at = run_parts.first_candle_at(exchange, exchange_url, candles)
    mode = "paper" if exchange == "paper" else "live"
    name = run_id or run_parts.default_run_id(exchange, settings.trading.account, first_candle_at)
    lease = stack.enter_context(run_lease(settings, name))
    if with_services:
        run_parts.require_free_port(bind_host, bind_port)
    pipeline = None
    if with_services:
        pipeline = cqrs_pipeline(system, start_embedded=False)
        report_file = pipeline_status_path(settings.data_dir, settings.env)
        pipeline.on_report = lambda report: write_pipeline_status(report_file, report)
        pipeline.on_notice = run_parts.notice
        stack.callback(pipeline.close)
        pipeline.start_in_background()
        stack.callback(pipeline.stop_background)
    services.register_process("ledger-run", os.getpid())
    stack.callback(services.unregister_process, "ledger-run")
    url = exchange_url
    if starting is not None:  # registered once the run's lease is held
        services.register_process("ledger-sandbox", starting.pid)
        stack.callback(services.unregister_process, "ledger-sandbox")
        url = run_parts.sandbox_url(starting)
    opened, is_new = open_or_resume(
        system,
        run_id=name,
        mode=mode,
        exchange=exchange,
        strategies=resolved,
        capital_krw=capital_krw,
        first_candle_at=first_candle_at,
        limits=limits,
    )
    if exchange == "sandbox" and exchange_url is None:  # started here: fund it, or restore it
        assert url is not None
        console.print(run_parts.restore_sandbox(system, opened, url, is_new=is_new))
    if (books := run_parts.inherited_books(system, opened)) is not None:
        console.print(books)
    status_file = status_path(settings.data_dir, settings.env)
    parts = trading_parts(
        system,
        opened,
        exchange_url=url,
        credentials=credentials,
        report=lambda status: write_status(status_file, status),
        on_notice=run_parts.notice,
        fence=lease.check,
    )
    stack.callback(parts.close)
    trading = BackgroundTrading(parts.service, parts.market_feed)
    urls = {s.name: s.url for s in report.services} if report else {}
    database = urls.get("postgres") or redacted(settings)["database"]["url"]
    if exchange == "upbit":
        console.print(
            Panel(
                "LIVE TRADING: orders go to Upbit with real money",
                style="bold white on red",
                expand=False,
            )
        )
    lines = [
        f"run         {name} ({'opened' if is_new else 'resumed'}): {mode} on {exchange}"
        f"{f' at {url}' if url else ''}, {', '.join(opened.strategies)}, "
        f"{opened.capital_krw:,} KRW each, from {opened.first_candle_at.isoformat()}",
        f"event log   {database}  (schema {settings.database.schema_name}, "
        f"position {system.trading.recorder.max_notification_id() or 0})",
        f"NATS        {urls.get('nats') or settings.nats.url}",
        f"migrations  {len(applied)} applied now; all up to date",
        f"CQRS        relay -> JetStream stream {log_stream(settings).name} -> "
        + (
            f"{len(pipeline.projectors)} read models (`ledger projections status`)"
            if pipeline is not None
            else "not here (--role trading: `ledger relay`, `ledger project` run them)"
        ),
        f"API         http://{bind_host}:{bind_port}  (health: /health, docs: /docs)"
        if with_services
        else "API         not here (--role trading: `ledger api` serves it)",
        f"data        {settings.data_dir.resolve()}  (server logs beside the data)",
        *run_parts.offline_hint(exchange, url or settings.upbit.rest_url),
        "status      `ledger status`; Ctrl-C stops; `ledger services down` stops everything",
    ]
    console.print(Panel("\n".join(lines), title="upbit-ledger is running", expand=False))
    trading.start()
    stack.callback(trading.stop)
    if not with_services:
        message = "trading until the sandbox's candles are used up…" if until_end else "trading…"
        with console.status(message):
            while not trading.done.wait(0.5):
                pass
        if trading.error is not None:
            raise trading.error
        run_parts.print_summary(system, parts.service.status)
        return
    config = uvicorn.Config(
        create_app(system),
        host=bind_host,
        port=bind_port,
        log_level=settings.log_level,
        log_config=uvicorn_log_config(),
    )
    server = uvicorn.Server(config)
    if not until_end:
        server.run()
        return
    api = threading.Thread(target=server.run, name="api", daemon=True)
    api.start()
    try:
        with console.status("trading until the sandbox's candles are used up…"):
            while not trading.done.wait(0.5):
                pass
        if trading.error is not None:
            raise trading.error
        run_parts.wait_for_read_models(system, pipeline)
        run_parts.print_summary(system, parts.service.status, pipeline)
    finally:
        server.should_exit = True
        api.join(10)


def api(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="API bind address (default: api.host).")] = None,
    port: Annotated[
        int | None,
        typer.Option(help="API port (default: api.port).", callback=run_parts.checked_port),
    ] = None,
) -> None:
    """Serve only the HTTP API (commands and queries) over the configured database.

    For a scaled-out deployment where the relay and the projectors run as their own services
    (`ledger relay`, `ledger project`). Commands need the bearer token LEDGER_API__TOKEN; the
    OpenAPI document is at /openapi.json and the docs at /docs.
    """
    import uvicorn

    from api.bootstrap import bootstrap, migrator
    from api.http.access_log import uvicorn_log_config
    from api.http.app import create_app

    settings = state_of(ctx).settings()
    bind_host, bind_port = host or settings.api.host, port or settings.api.port
    run_parts.require_free_port(bind_host, bind_port)
    system = bootstrap(settings, with_queries=True)
    try:
        migrator(settings).up()
        token = "set" if settings.api.token is not None else "NOT set: commands answer 503"
        console.print(f"API on http://{bind_host}:{bind_port} (docs /docs); command token {token}")
        uvicorn.run(
            create_app(system),
            host=bind_host,
            port=bind_port,
            log_level=settings.log_level,
            log_config=uvicorn_log_config(),
        )
    finally:
        system.close()
