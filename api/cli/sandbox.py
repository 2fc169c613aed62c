"""`ledger sandbox`: serve the Upbit-compatible sandbox exchange over a candle file."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated

import typer
from rich.panel import Panel

from api.cli.context import ALLOW_NON_KRW_OPTION, console


def sandbox(
    candles: Annotated[Path, typer.Option(help="Candle CSV (.csv or .csv.gz) to replay.")],
    market: Annotated[str, typer.Option(help="Market the candles are of.")] = "KRW-BTC",
    allow_non_krw: bool = ALLOW_NON_KRW_OPTION,
    speed: Annotated[float, typer.Option(help="Market minutes per wall minute.")] = 1.0,
    start: Annotated[
        str | None,
        typer.Option(
            help="Market time to start at (ISO UTC) (default: 200 minutes "
            "after the first candle, so history exists)."
        ),
    ] = None,
    paced: Annotated[
        bool,
        typer.Option(
            "--paced",
            help='Hold the clock at its start; POST /sandbox/clock {"until": ISO} lets it run '
            "at --speed up to that time and hold there (a trading system releases it candle by "
            "candle).",
        ),
    ] = False,
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 8765,
    krw: Annotated[str, typer.Option(help="KRW the test account starts with.")] = "10000000",
    btc: Annotated[str, typer.Option(help="Coins the test account starts with.")] = "0",
    participation: Annotated[
        str | None,
        typer.Option(
            help="Fill at most this share of a candle's volume per order and candle "
            "(strategies.md max_participation; default: no cap)."
        ),
    ] = None,
    access_key: Annotated[
        str,
        typer.Option(
            envvar="LEDGER_SANDBOX_ACCESS_KEY", help="Test access key the sandbox accepts."
        ),
    ] = "sandbox-access-key",
) -> None:
    """Replay real candles as a live Upbit market, offline, with Upbit's paths and limits.

    REST candles (minutes and days), tickers and the market list are served up to the
    sandbox clock's now, with `Remaining-Req`, 429/418 over the limits and Upbit's error
    bodies; the WebSocket streams candle.1m. The exchange endpoints (accounts,
    orders/chance, orders with `identifier`, order lookup and cancel, open and closed lists)
    need a JWT signed with the test key and match orders with the paper fill model of
    strategies.md as the clock closes each minute. Tests move the clock with
    POST /sandbox/clock {"at": ISO, "frozen": true}; with --paced the clock holds at its start
    and runs only when released: POST /sandbox/clock {"until": ISO}. POST /sandbox/faults makes
    the next order POSTs fail (docs/market-ingest.md).

    The test key's secret comes from LEDGER_SANDBOX_SECRET_KEY (never the command line),
    or is the built-in offline test secret; it is never a real Upbit key.
    """
    import uvicorn

    from adapters.embedded.child_process import die_with_parent

    die_with_parent()  # started by `ledger run`: end with it, however it ends

    from adapters.market_data.candle_quote import check_krw_quote
    from adapters.market_data.candles_csv import read_rows
    from adapters.sandbox_exchange.app import SANDBOX_KEYS, create_sandbox_app
    from adapters.sandbox_exchange.clock import SandboxClock
    from adapters.sandbox_exchange.market_data import SandboxMarket
    from adapters.sandbox_exchange.paper_exchange import PaperExchange
    from api.cli.backtest import BacktestInputError
    from domain.fills.paper_fill_model import FillModel

    if speed <= 0:
        raise BacktestInputError(f"--speed {speed} must be greater than 0")
    rows = read_rows(candles)
    check_krw_quote(candles, rows.prices[:, 3], market, is_non_krw_allowed=allow_non_krw)
    replay = SandboxMarket(market, rows.tape())
    if not 1 <= port <= 65535:
        raise BacktestInputError(f"--port {port} is not a port: it must be from 1 to 65535")
    if start is None:
        begin = replay.first_time + timedelta(minutes=200)
    else:
        try:
            begin = datetime.fromisoformat(start.replace("Z", "+00:00")).astimezone(UTC)
        except ValueError:
            raise BacktestInputError(f"--start {start!r} is not an ISO 8601 time") from None
    amounts = {}
    for flag, text in (("--krw", krw), ("--btc", btc), ("--participation", participation)):
        if text is None:
            continue
        try:
            amounts[flag] = Decimal(text)
        except InvalidOperation:
            raise BacktestInputError(f"{flag} {text!r} is not a decimal number") from None
        if not amounts[flag].is_finite() or amounts[flag] < 0:
            raise BacktestInputError(f"{flag} {text!r} must be a finite number >= 0")
    try:
        model = FillModel(max_participation=amounts.get("--participation"))
    except ValueError as error:
        raise BacktestInputError(f"--participation: {error}") from None
    exchange = PaperExchange(
        {market: replay}, krw=amounts["--krw"], btc=amounts["--btc"], model=model
    )
    secret = os.environ.get("LEDGER_SANDBOX_SECRET_KEY") or SANDBOX_KEYS["sandbox-access-key"]
    keys = {access_key: secret}
    clock = SandboxClock(begin, speed=speed, paced=paced)
    console.print(
        Panel(
            f"market      {market}: {len(replay.real):,} candles from {candles.name}\n"
            f"clock       starts at {begin.isoformat()}, {speed:g}x"
            f"{', paced: held until released' if paced else ''}\n"
            f"REST        http://127.0.0.1:{port}/v1/... (candles, ticker, market/all)\n"
            f"exchange    accounts, orders, order: JWT with access key {access_key}; "
            f"account {amounts['--krw']} KRW + {amounts['--btc']} coins\n"
            f"WebSocket   ws://127.0.0.1:{port}/websocket/v1\n"
            f"clock API   GET/POST http://127.0.0.1:{port}/sandbox/clock",
            title="upbit-ledger sandbox exchange",
            expand=False,
        )
    )
    uvicorn.run(
        create_sandbox_app({market: replay}, clock, exchange=exchange, keys=keys),
        host="127.0.0.1",
        port=port,
        log_level="warning",
    )
