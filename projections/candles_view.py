"""Candles of the log by minute, hour and Upbit day (00:00 UTC = 09:00 KST), as recorded.

`rm_candles_1m` holds the minutes (corrections applied), `rm_candles_1h` and `rm_candles_1d`
their roll-ups.

Candle events name their hour only by its aggregate id, so `rm_candle_hours` keeps each hour's
market and start (from `market.candle_hour.opened`) and the store resolves minutes through it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from domain.candles.candle_hour import CandleHour
from domain.events import LedgerEvent
from projections.projection import Projection
from projections.rows import CandleMinute, Insert, RollUpCandles, RowOp, WriteCandleMinutes


class CandlesProjection(Projection):
    """Minute rows from `market.candle.ingested` and `.corrected`; hours and days rolled up."""

    name: ClassVar[str] = "candles"
    tables: ClassVar[tuple[str, ...]] = (
        "rm_candle_hours",
        "rm_candles_1m",
        "rm_candles_1h",
        "rm_candles_1d",
    )

    def rows(self, event: LedgerEvent, position: int) -> list[RowOp]:
        """Return the hour's record, its minute rows and their roll-up; nothing for others."""
        hour_id = event.originator_id
        match event:
            case CandleHour.Opened():
                row = {"hour_id": hour_id, "market": event.market, "hour_start": event.hour_start}
                return [Insert("rm_candle_hours", row)]
            case CandleHour.Ingested():
                minutes = tuple(parse_minute(text) for text in event.rows)
                return [WriteCandleMinutes(hour_id, minutes), RollUpCandles(hour_id)]
            case CandleHour.Corrected():
                minute = parse_minute(event.corrected)
                return [
                    WriteCandleMinutes(hour_id, (minute,), replace=True),
                    RollUpCandles(hour_id),
                ]
        return []


def parse_minute(text: str) -> CandleMinute:
    """Parse a stored candle row `minute,open,high,low,close,volume,value,synthetic`."""
    parts = text.split(",")
    if len(parts) != 8:
        raise ValueError(f"candle row {text!r} does not have 8 fields")
    o, h, lo, c, v, value = (Decimal(x) for x in parts[1:7])
    return CandleMinute(int(parts[0]), o, h, lo, c, v, value, parts[7] == "1")
