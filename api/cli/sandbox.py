"""`ledger sandbox`: serve the Upbit-compatible sandbox exchange over a candle file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.panel import Panel

from api.cli.context import console


def sandbox(
    candles: Annotated[Path, typer.Option(help="Candle CSV (.csv or .csv.gz) to replay.")],
    market: Annotated[str, typer.Option(help="Market the candles are of.")] = "KRW-BTC",
    speed: Annotated[float, typer.Option(help="Market minutes per wall minute.")] = 1.0,
    start: Annotated[
        str | None,
        typer.Option(
            help="Market time to start at (ISO UTC) (default: 200 minutes "
            "after the first candle, so history exists)."
        ),
    ] = None,
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 8765,
) -> None:
    """Replay real candles as a live Upbit market, offline, with Upbit's paths and limits.

    REST candles (minutes and days), tickers and the market list are served up to the
    sandbox clock's now, with `Remaining-Req`, 429/418 over the limits and Upbit's error
    bodies. Tests move the clock with POST /sandbox/clock {"at": ISO, "frozen": true}.
    """
    import uvicorn

    from adapters.market_data.candles_csv import read_tape
    from adapters.sandbox_exchange.app import create_sandbox_app
    from adapters.sandbox_exchange.clock import SandboxClock
    from adapters.sandbox_exchange.market_data import SandboxMarket
    from api.cli.backtest import BacktestInputError

    if speed <= 0:
        raise BacktestInputError(f"--speed {speed} must be greater than 0")
    replay = SandboxMarket(market, read_tape(candles))
    if start is None:
        begin = replay.first_time + timedelta(minutes=200)
    else:
        try:
            begin = datetime.fromisoformat(start.replace("Z", "+00:00")).astimezone(UTC)
        except ValueError:
            raise BacktestInputError(f"--start {start!r} is not an ISO 8601 time") from None
    clock = SandboxClock(begin, speed=speed)
    console.print(
        Panel(
            f"market      {market}: {len(replay.real):,} candles from {candles.name}\n"
            f"clock       starts at {begin.isoformat()}, {speed:g}x\n"
            f"REST        http://127.0.0.1:{port}/v1/... (candles, ticker, market/all)\n"
            f"clock API   GET/POST http://127.0.0.1:{port}/sandbox/clock",
            title="upbit-ledger sandbox exchange",
            expand=False,
        )
    )
    uvicorn.run(
        create_sandbox_app({market: replay}, clock),
        host="127.0.0.1",
        port=port,
        log_level="warning",
    )
