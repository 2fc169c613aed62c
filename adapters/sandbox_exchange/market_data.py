"""The sandbox's market: real 1-minute candles, served as Upbit would serve them at a time.

Only candles that have closed by the clock's "now" exist; minutes without trades are absent
(as on Upbit). Larger units and days are aggregated from the minutes, aligned as Upbit aligns
them (minutes to the hour, days to 00:00 UTC).
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from domain.candles.tape import CandleTape

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Bar:
    """One candle to serve, numbers as the source wrote them (valid JSON numbers)."""

    start: datetime
    open: str
    high: str
    low: str
    close: str
    volume: Decimal
    value: Decimal
    last_trade_at: datetime


class SandboxMarket:
    """The candles of one market (a tape read from a file)."""

    def __init__(self, market: str, tape: CandleTape) -> None:
        self.market = market
        self.tape = tape
        self.real = [i for i in range(len(tape)) if not tape.is_synthetic[i]]
        self._starts = [tape.start_minute + i for i in self.real]

    @property
    def first_time(self) -> datetime:
        """Return the open time of the first candle."""
        return self.tape.open_time(self.real[0])

    @property
    def last_time(self) -> datetime:
        """Return the open time of the last candle (it closes a minute later)."""
        return self.tape.open_time(self.real[-1])

    def minute_bars(self, *, before: datetime, now: datetime, count: int, unit: int) -> list[Bar]:
        """Return up to `count` closed candles of `unit` minutes starting before `before`.

        Newest first, as Upbit answers; a candle exists once its last minute has closed by
        `now` (the one still forming is not served).
        """
        now_minute = _minute(now)
        before_bucket = -(-_minute(before) // unit)  # buckets starting before `before`
        last_bucket = min(before_bucket, now_minute // unit)  # exclusive: closed by now
        hi = bisect_left(self._starts, last_bucket * unit)
        bars: list[Bar] = []
        rows: list[int] = []
        bucket: int | None = None
        for k in range(hi - 1, -1, -1):  # newest first; gaps are skipped, as on Upbit
            b = self._starts[k] // unit
            if bucket is not None and b != bucket:
                bars.append(self._bar(bucket, unit, rows[::-1]))
                rows = []
                if len(bars) == count:
                    return bars
            bucket = b
            rows.append(self.real[k])
        if rows and bucket is not None:
            bars.append(self._bar(bucket, unit, rows[::-1]))
        return bars

    def day_bars(self, *, before: datetime, now: datetime, count: int) -> list[Bar]:
        """Return up to `count` closed day candles (from 00:00 UTC) before `before`."""
        return self.minute_bars(before=before, now=now, count=count, unit=1440)

    def last_bar(self, now: datetime) -> Bar | None:
        """Return the newest closed 1-minute candle."""
        bars = self.minute_bars(before=now, now=now, count=1, unit=1)
        return bars[0] if bars else None

    def _bar(self, bucket: int, unit: int, rows: list[int]) -> Bar:
        candles = [self.tape.candle(i) for i in rows]
        texts = [self.tape.row_text(int(self.tape.row_of[i])) for i in rows]
        high_at = max(range(len(candles)), key=lambda j: candles[j].high)
        low_at = min(range(len(candles)), key=lambda j: candles[j].low)
        last = candles[-1]
        return Bar(
            start=EPOCH + timedelta(minutes=bucket * unit),
            open=texts[0][0],
            high=texts[high_at][1],
            low=texts[low_at][2],
            close=texts[-1][3],
            volume=sum((c.volume for c in candles), Decimal(0)),
            value=sum((c.value for c in candles), Decimal(0)),
            last_trade_at=last.close_time - timedelta(milliseconds=1),
        )


def _minute(at: datetime) -> int:
    return int((at.astimezone(UTC) - EPOCH).total_seconds() // 60)
