"""Backfill: page back through an exchange's closed candles and record them in the log.

Each REST page is recorded in one save (one event per UTC hour it touches). A minute missing
inside the span the pages cover is one the exchange confirmed empty: it is recorded as a flat
synthetic candle at the previous close, flagged, with its provenance (strategies.md "Gap-free
stream"). A candle already recorded is skipped; one that differs is recorded as a correction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from commands.messages import IngestCandles
from commands.ports import CandleSource
from commands.trading import Trading
from domain.candles.candle import Candle
from domain.candles.candle_hour import CandleRow, hour_start_of
from domain.events import Cause

PAGE = 200
ONE_MINUTE = timedelta(minutes=1)


@dataclass(frozen=True)
class BackfillReport:
    """What a backfill found and recorded."""

    pages: int
    candles: int
    synthetic: int
    recorded: int
    corrected: int


def backfill(
    trading: Trading,
    source: CandleSource,
    market: str,
    *,
    since: datetime,
    until: datetime,
    cause: Callable[[], Cause],
    source_name: str,
    on_page: Callable[[list[Candle]], None] | None = None,
) -> BackfillReport:
    """Record every closed candle of `market` in [since, until), newest page first."""
    pages = candles_seen = synthetic = recorded = corrected = 0
    before = until
    newer: Candle | None = None  # the oldest candle of the page recorded before this one
    while before > since:
        page = [c for c in source.candles_before(market, before, PAGE) if c.open_time >= since]
        if not page:
            break
        pages += 1
        candles_seen += len(page)
        rows = _with_confirmed_gaps(page, newer)
        synthetic += len(rows) - len(page)
        report = trading.ingest_candles(
            _hour_commands(market, rows, source_name, cause()), assume_new=False
        )
        recorded += report.recorded
        corrected += report.corrected
        if on_page is not None:
            on_page(rows)
        newer, before = page[0], page[0].open_time
    return BackfillReport(pages, candles_seen, synthetic, recorded, corrected)


def _with_confirmed_gaps(page: list[Candle], newer: Candle | None) -> list[Candle]:
    # The page and the one recorded before it cover every minute from page[0] to `newer`:
    # a minute absent from both had no trade.
    filled: list[Candle] = []
    following = [*page[1:], newer] if newer is not None else page[1:]
    for candle, after in zip(page, [*following, None], strict=False):
        filled.append(candle)
        if after is None:
            continue
        flat = candle
        while flat.close_time < after.open_time:
            flat = flat.flat_successor()
            filled.append(flat)
    return filled


def _hour_commands(
    market: str, candles: list[Candle], source: str, cause: Cause
) -> list[IngestCandles]:
    by_hour: dict[datetime, list[CandleRow]] = {}
    for candle in candles:
        minute = candle.open_time.minute
        fields = (
            str(candle.open),
            str(candle.high),
            str(candle.low),
            str(candle.close),
            str(candle.volume),
            str(candle.value),
        )
        row = CandleRow.of(minute, fields, is_synthetic=candle.is_synthetic)
        by_hour.setdefault(hour_start_of(candle.open_time), []).append(row)
    return [
        IngestCandles(market, hour, tuple(rows), source, cause, allow_corrections=True)
        for hour, rows in sorted(by_hour.items())
    ]
