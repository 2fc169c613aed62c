"""Turn checked candle rows into ingest commands, one per UTC hour."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from commands.messages import IngestCandles
from domain.candles.candle_hour import CandleRow
from domain.events import Cause

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def hour_commands(
    market: str,
    minutes: Sequence[int],
    values: Callable[[int], str],
    *,
    source: str,
    cause: Cause,
    allow_corrections: bool = False,
) -> list[IngestCandles]:
    """Return one command per hour of the rows (minutes since the epoch, strictly increasing).

    `values(i)` gives row i's `open,high,low,close,volume[,value]` text as the file wrote it.
    """
    commands: list[IngestCandles] = []
    start = 0
    count = len(minutes)
    while start < count:
        hour = int(minutes[start]) // 60
        stop = start + 1
        while stop < count and int(minutes[stop]) // 60 == hour:
            stop += 1
        rows = tuple(
            CandleRow(m, f"{m},{text if text.count(',') == 5 else text + ',0'},0")
            for m, text in ((int(minutes[i]) % 60, values(i)) for i in range(start, stop))
        )
        commands.append(
            IngestCandles(
                market, EPOCH + timedelta(hours=hour), rows, source, cause, allow_corrections
            )
        )
        start = stop
    return commands
