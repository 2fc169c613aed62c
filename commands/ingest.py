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
    newest: Candle | None = None
    """The newest real candle found (None when the span had none)."""


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
    after: Candle | None = None,
) -> BackfillReport:
    """Record every closed candle of `market` in [since, until), newest page first.

    `after` is the newest candle already recorded before `since`: minutes between it and the
    oldest candle found are confirmed empty too.
    """
    pages = candles_seen = synthetic = recorded = corrected = 0
    before = until
    newer: Candle | None = None  # the oldest candle of the page recorded before this one
    newest: Candle | None = None
    while before > since:
        page = [c for c in source.candles_before(market, before, PAGE) if c.open_time >= since]
        if not page:
            break
        pages += 1
        candles_seen += len(page)
        newest = newest or page[-1]
        rows = _with_confirmed_gaps(page, newer)
        synthetic += len(rows) - len(page)
        report = trading.ingest_candles(
            candle_hour_commands(market, rows, source_name, cause()), assume_new=False
        )
        recorded += report.recorded
        corrected += report.corrected
        if on_page is not None:
            on_page(rows)
        newer, before = page[0], page[0].open_time
    if after is not None and newer is not None:
        gap = _with_confirmed_gaps([after], newer)[1:]
        if gap:
            report = trading.ingest_candles(candle_hour_commands(market, gap, source_name, cause()))
            synthetic += len(gap)
            recorded += report.recorded
            if on_page is not None:
                on_page(gap)
    return BackfillReport(pages, candles_seen, synthetic, recorded, corrected, newest)


def record_closed(
    trading: Trading,
    market: str,
    candle: Candle,
    *,
    previous: Candle | None,
    source: CandleSource,
    source_name: str,
    cause: Callable[[], Cause],
) -> list[Candle]:
    """Record one candle closed on the live feed; return every candle recorded with it.

    Minutes between `previous` (the last recorded) and it are asked of REST first: candles
    missed by the feed are recorded, the minutes REST confirms empty become synthetic.
    """
    missing: list[Candle] = []
    if previous is not None and previous.close_time < candle.open_time:
        found = [
            c
            for c in source.candles_before(market, candle.open_time, PAGE)
            if c.open_time > previous.open_time
        ]
        missing = _with_confirmed_gaps([previous, *found], candle)[1:]
    rows = [*missing, candle]
    trading.ingest_candles(candle_hour_commands(market, rows, source_name, cause()))
    return rows


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


def candle_hour_commands(
    market: str, candles: list[Candle], source: str, cause: Cause
) -> list[IngestCandles]:
    """Return the commands that record these candles, one per UTC hour (corrections allowed)."""
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
