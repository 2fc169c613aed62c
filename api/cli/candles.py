"""`ledger import`: record a candle file in the event log and the candle table."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from api.cli.context import ACTOR_OPTION, console, make_cause, open_system, state_of


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
    actor: str | None = ACTOR_OPTION,
) -> None:
    """Import 1-minute candles into the event log, one event per UTC hour of candles.

    The whole file is checked first (a malformed row names its line and column, and nothing
    is imported). Candles already recorded are skipped; a candle that differs from the
    recorded one refuses the whole import with a report, unless --allow-corrections.
    """
    from adapters.market_data.candles_csv import read_rows
    from adapters.postgres.candle_table import CandleTable
    from api.bootstrap import database_conninfo, migrator
    from commands.candle_import import hour_commands

    started = time.perf_counter()
    rows = read_rows(path)
    settings = state_of(ctx).settings()
    cause = make_cause(actor, correlation_id=f"import:{path.name}")
    source = f"csv:{path.name}"
    commands = hour_commands(
        market,
        rows.minutes.tolist(),
        rows.values,
        source=source,
        cause=cause,
        allow_corrections=allow_corrections,
    )
    with open_system(ctx) as system:
        migrator(settings).up()
        table = CandleTable(database_conninfo(settings), settings.database.schema_name)
        staged = table.stage_new_text(market, source, rows.lines)  # runs beside the events
        with console.status(f"recording {len(rows.lines):,} candles in {len(commands):,} hours…"):
            try:
                report = system.trading.ingest_candles(commands, assume_new=True)
            except BaseException:
                staged.finish(commit=False)
                raise
        added = staged.finish(commit=True)
    elapsed = time.perf_counter() - started
    skipped = len(rows.lines) - report.recorded - report.corrected
    console.print(
        f"{market}: {report.recorded:,} candles recorded, {skipped:,} already recorded, "
        f"{report.corrected:,} corrected, {report.hours_opened:,} new hours; candle table "
        f"+{added:,} rows; {elapsed:.1f} s ({len(rows.lines) / elapsed:,.0f} candles/s)"
    )
