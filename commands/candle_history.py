"""Read recorded candles back from the event log, as a tape for replays."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import numpy as np

from commands.trading import Trading
from domain.candles.candle_hour import CandleHour
from domain.candles.tape import CandleTape

TOPICS = [CandleHour.Opened.TOPIC, CandleHour.Ingested.TOPIC, CandleHour.Corrected.TOPIC]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def candle_tape_from_log(
    trading: Trading,
    market: str,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    before_position: int | None = None,
) -> CandleTape | None:
    """Return the market's recorded candles with open time in [start, end), or None if none.

    The rows are the exact text the ingest recorded, so a replay from the log decides exactly
    as one from the original file. With `before_position`, only the candle events recorded
    before that log position count: the candles as a run that started there saw them.
    """
    hours: dict[UUID, tuple[int, dict[int, str]]] = {}
    upto = None if before_position is None else before_position - 1
    for _, event in trading.read_events(TOPICS, upto=upto):
        if isinstance(event, CandleHour.Opened):
            if event.market == market:
                first_minute = int((event.hour_start - EPOCH).total_seconds() // 60)
                hours[event.originator_id] = (first_minute, {})
        elif event.originator_id in hours:
            rows = hours[event.originator_id][1]
            if isinstance(event, CandleHour.Ingested):
                texts = event.rows
            elif isinstance(event, CandleHour.Corrected):
                texts = [event.corrected]
            else:
                continue
            for text in texts:
                minute, rest = text.split(",", 1)
                rows[int(minute)] = rest
    lo = -(2**62) if start is None else int((start - EPOCH).total_seconds() // 60)
    hi = 2**62 if end is None else int((end - EPOCH).total_seconds() // 60)
    items = sorted(
        (first + minute, rest)
        for first, rows in hours.values()
        for minute, rest in rows.items()
        if lo <= first + minute < hi
    )
    if not items:
        return None
    minutes = np.array([m for m, _ in items], dtype=np.int64)
    fields = [rest.rsplit(",", 1)[0].split(",") for _, rest in items]  # drop the synthetic flag
    prices = np.array([f[:5] for f in fields], dtype=np.float64)
    return CandleTape(int(minutes[0]), minutes, prices, lambda row: fields[row])
