"""`ledger import`: record a candle file in the event log and the candle table."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from adapters.market_data.candles_csv import CandleRows
    from api.bootstrap import System
    from api.settings import Settings
    from commands.handlers.candles import CandleIngestReport
    from domain.events import Cause

from api.cli.context import (
    ACTOR_OPTION,
    ALLOW_NON_KRW_OPTION,
    console,
    make_cause,
    open_system,
    state_of,
)


class CandleInputError(Exception):
    """An option of a candle command is malformed or names no candles (exit code 2)."""


def import_candles(
    ctx: typer.Context,
    path: Annotated[
        Path,
        typer.Argument(
            help="Candle CSV (.csv or .csv.gz): ts_utc,open,high,low,close,volume[,value]."
        ),
    ],
    market: Annotated[str, typer.Option(help="The market the candles are of.")] = "KRW-BTC",
    allow_corrections: Annotated[
        bool,
        typer.Option(
            help="Record a candle that differs from the recorded one as an "
            "explicit correction event instead of refusing the import."
        ),
    ] = False,
    allow_non_krw: bool = ALLOW_NON_KRW_OPTION,
    actor: str | None = ACTOR_OPTION,
) -> None:
    """Import 1-minute candles into the event log, one event per UTC hour of candles.

    The whole file is checked first (a malformed row names its line and column, and nothing
    is imported). Candles already recorded are skipped; a candle that differs from the
    recorded one refuses the whole import with a report, unless --allow-corrections.
    """
    from adapters.market_data.candle_quote import check_krw_quote
    from adapters.market_data.candles_csv import read_rows
    from api.bootstrap import migrator
    from domain.errors import CandleConflictError

    started = time.perf_counter()
    rows = read_rows(path)
    check_krw_quote(path, rows.prices[:, 3], market, is_non_krw_allowed=allow_non_krw)
    settings = state_of(ctx).settings()
    cause = make_cause(actor, correlation_id=f"import:{path.name}")
    source = f"csv:{path.name}"
    with open_system(ctx) as system:
        migrator(settings).up()
        try:
            report, added = record_candle_rows(
                system, settings, market, rows, source, cause, allow_corrections=allow_corrections
            )
        except CandleConflictError as error:
            raise CandleConflictError(
                f"{error}: `ledger import {path} --allow-corrections` records the file's "
                "differing candles as market.candle.corrected events"
            ) from None
    elapsed = time.perf_counter() - started
    skipped = len(rows.lines) - report.recorded - report.corrected
    console.print(
        f"{market}: {report.recorded:,} candles recorded, {skipped:,} already recorded, "
        f"{report.corrected:,} corrected, {report.hours_opened:,} new hours; candle table "
        f"+{added:,} rows; {elapsed:.1f} s ({len(rows.lines) / elapsed:,.0f} candles/s)"
    )


def record_candle_rows(
    system: System,
    settings: Settings,
    market: str,
    rows: CandleRows,
    source: str,
    cause: Cause,
    *,
    allow_corrections: bool = False,
) -> tuple[CandleIngestReport, int]:
    """Record rows in the log (an event per UTC hour, one transaction) and the candle table.

    Return the log's report and the number of rows added to the table.

    Raises:
        CandleConflictError: a candle differs from the recorded one (nothing is written).
    """
    from adapters.postgres.candle_table import CandleTable
    from api.bootstrap import database_conninfo
    from commands.candle_import import hour_commands

    commands = hour_commands(
        market,
        rows.minutes.tolist(),
        rows.values,
        source=source,
        cause=cause,
        allow_corrections=allow_corrections,
    )

    table = CandleTable(database_conninfo(settings), settings.database.schema_name)
    staged = table.stage_new_text(market, source, rows.lines)  # runs beside the events
    with console.status(f"recording {len(rows.lines):,} candles in {len(commands):,} hours…"):
        try:
            report = system.trading.ingest_candles(commands, assume_new=True)
        except BaseException:
            staged.finish(commit=False)
            raise
    return report, staged.finish(commit=True)


def ingest(
    ctx: typer.Context,
    market: Annotated[str, typer.Option(help="The market to ingest.")] = "KRW-BTC",
    since: Annotated[
        str | None,
        typer.Option(
            help="First minute (ISO UTC) (default: 24 hours before the "
            "exchange's newest closed candle)."
        ),
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="End (ISO UTC), exclusive (default: now).")
    ] = None,
    exchange_url: Annotated[
        str | None,
        typer.Option(
            help="REST base URL (default: upbit.rest_url, e.g. the "
            "sandbox's http://127.0.0.1:8765)."
        ),
    ] = None,
    live: Annotated[
        bool,
        typer.Option(
            "--live",
            help="After the backfill, follow the candle.1m WebSocket and "
            "record each closed minute until Ctrl-C (reconnecting, and backfilling "
            "what a drop missed).",
        ),
    ] = False,
    actor: str | None = ACTOR_OPTION,
) -> None:
    """Backfill closed 1-minute candles from Upbit (or the sandbox) into the event log.

    Pages of 200 candles are read newest first within the rate limit and recorded one page
    per save; a minute the pages show had no trade is recorded as a flat synthetic candle.
    Candles already recorded are skipped; a differing one is recorded as a correction.
    """
    from datetime import UTC, datetime, timedelta

    from adapters.postgres.candle_table import CandleTable
    from adapters.upbit.candle_source import UpbitCandleSource
    from adapters.upbit.rest import UpbitRestClient
    from api.bootstrap import database_conninfo, migrator
    from commands.ingest import backfill

    def parse(text: str | None, option: str) -> datetime | None:
        if text is None:
            return None
        try:
            value = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise CandleInputError(f"{option} {text!r} is not an ISO 8601 time") from None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    settings = state_of(ctx).settings()
    end = parse(until, "--until") or datetime.now(tz=UTC)
    url = exchange_url or settings.upbit.rest_url
    started = time.perf_counter()
    with UpbitRestClient(url) as client, open_system(ctx) as system:
        source = UpbitCandleSource(client)
        start = parse(since, "--since")
        if start is None:
            newest = source.candles_before(market, end, 1)
            if not newest:
                raise CandleInputError(f"{url} has no closed {market} candle before {end}")
            start = newest[-1].open_time - timedelta(hours=24)
        migrator(settings).up()
        table = CandleTable(database_conninfo(settings), settings.database.schema_name)
        name = f"upbit-rest:{url}"

        def to_table(candles: list) -> None:  # type: ignore[type-arg]
            table.write(
                market,
                name,
                [
                    (c.open_time, c.open, c.high, c.low, c.close, c.volume, c.value, c.is_synthetic)
                    for c in candles
                ],
            )

        if live:
            _follow_live(system.trading, source, url, market, start, name, to_table, actor)
            return
        with console.status(f"backfilling {market} from {start.isoformat()} via {url}…"):
            report = backfill(
                system.trading,
                source,
                market,
                since=start,
                until=end,
                cause=lambda: make_cause(actor, f"ingest:{market}"),
                source_name=name,
                on_page=to_table,
            )
    elapsed = time.perf_counter() - started
    console.print(
        f"{market}: {report.pages} pages, {report.candles:,} candles read, {report.synthetic:,} "
        f"empty minutes recorded as synthetic, {report.recorded:,} recorded, "
        f"{report.corrected:,} corrected; {elapsed:.1f} s"
    )


def _follow_live(trading, source, url, market, start, name, to_table, actor):  # type: ignore[no-untyped-def]
    import asyncio
    import signal
    from datetime import UTC, datetime

    from adapters.upbit.live_ingest import LiveCandleIngest

    websocket_url = url.replace("https://", "wss://").replace("http://", "ws://")
    websocket_url = websocket_url.rstrip("/") + "/websocket/v1"

    def show(candles: list) -> None:  # type: ignore[type-arg]
        to_table(candles)
        for candle in candles:
            kind = "synthetic (no trades)" if candle.is_synthetic else f"close {candle.close}"
            console.print(f"{candle.open_time:%Y-%m-%d %H:%M} UTC  {market}  {kind}")

    ingest = LiveCandleIngest(
        trading,
        source,
        websocket_url,
        market,
        cause=lambda: make_cause(actor, f"ingest:{market}"),
        source_name=name,
        now=lambda: datetime.now(tz=UTC),
        on_record=show,
    )

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        stats = await ingest.run(start, stop)
        console.print(
            f"stopped: {len(stats.recorded):,} candles recorded, {stats.reconnects} reconnects"
        )

    console.print(f"following {websocket_url} for {market} (Ctrl-C stops)")
    asyncio.run(main())
