"""A gap-free stream of 1-minute candles held as arrays, for fast replays.

Prices and volumes are float64 arrays for scanning; the exact Decimal candle of any minute is
built on demand from the file's own text, so the decisions stay exact. Missing minutes are
flat synthetic candles at the previous close (strategies.md "Gap-free stream").
"""

from __future__ import annotations

import hashlib
from bisect import bisect_right
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from domain.candles.candle import Candle
from domain.market_point import MarketPoint
from domain.session_bars import SessionBar
from domain.sessions import session_end

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MINUTES_PER_DAY = 1440
Floats = npt.NDArray[np.float64]
RowText = Callable[[int], Sequence[str]]
"""Row number -> the row's fields as written: open, high, low, close, volume[, value]."""


class CandleTape:
    """Candles of consecutive minutes from `start_minute` (minutes since the epoch, UTC)."""

    def __init__(
        self,
        start_minute: int,
        minutes: npt.NDArray[np.int64],
        prices: npt.NDArray[np.float64],
        row_text: RowText,
    ) -> None:
        """Build from the present rows: minutes, float prices, exact text on demand.

        `minutes` are strictly increasing; `prices` is an (n, 5) array of open, high, low,
        close and volume; `row_text` gives a row's fields as the file wrote them.
        """
        self.start_minute = start_minute
        self.row_text = row_text
        count = int(minutes[-1] - start_minute) + 1 if len(minutes) else 0
        offsets = (minutes - start_minute).astype(np.int64)
        present = np.zeros(count, dtype=bool)
        present[offsets] = True
        marks = np.full(count, -1, dtype=np.int64)
        marks[offsets] = np.arange(len(offsets))
        self.row_of = np.maximum.accumulate(marks)
        """The row of each minute: its own, or for a synthetic minute the last real one."""
        self.is_synthetic = ~present
        real = prices[self.row_of]
        close = real[:, 3]
        self.close: Floats = close
        self.open: Floats = np.where(present, real[:, 0], close)
        self.high: Floats = np.where(present, real[:, 1], close)
        self.low: Floats = np.where(present, real[:, 2], close)
        self.volume: Floats = np.where(present, real[:, 4], 0.0)
        self._sessions()

    def __len__(self) -> int:
        return len(self.close)

    def open_time(self, index: int) -> datetime:
        """Return the UTC open time of the candle at `index`."""
        return EPOCH + timedelta(minutes=self.start_minute + index)

    def candle(self, index: int) -> Candle:
        """Return the exact candle at `index` (synthetic: flat at the previous close)."""
        row = self.row_text(int(self.row_of[index]))
        at = self.open_time(index)
        if self.is_synthetic[index]:
            price = Decimal(row[3])
            return Candle(at, price, price, price, price, Decimal(0), Decimal(0), True)
        value = Decimal(row[5]) if len(row) > 5 else Decimal(0)
        return Candle(
            at,
            Decimal(row[0]),
            Decimal(row[1]),
            Decimal(row[2]),
            Decimal(row[3]),
            Decimal(row[4]),
            value,
        )

    def content_sha256(self) -> str:
        """Return the sha256 of the recorded rows, as `minute,open,high,low,close,volume,value`.

        The text is the rows' own (the decisions depend on it, exponent and all); a missing
        value field counts as "0", as the log records it. Synthetic minutes are left out: they
        follow from the rows.
        """
        digest = hashlib.sha256()
        minutes = np.flatnonzero(~self.is_synthetic)
        rows = self.row_of[minutes]
        for minute, row in zip((minutes + self.start_minute).tolist(), rows.tolist(), strict=True):
            fields = self.row_text(row)
            value = fields[5] if len(fields) > 5 else "0"
            digest.update(f"{minute},{','.join(fields[:5])},{value}\n".encode())
        return digest.hexdigest()

    def scan(self, start: int, predicate: Callable[[slice], npt.NDArray[np.bool_]]) -> int:
        """Return the first index >= `start` where `predicate(window)` is True, else len(self).

        Windows grow geometrically, so a near hit costs little and a far one a few passes.
        """
        n, size = len(self), 256
        while start < n:
            stop = min(n, start + size)
            hits = np.flatnonzero(predicate(slice(start, stop)))
            if hits.size:
                return start + int(hits[0])
            start, size = stop, size * 8
        return n

    def session_of(self, index: int) -> int:
        """Return the session number (0 for the first) of the candle at `index`."""
        return (self.start_minute + index) // MINUTES_PER_DAY - self.first_day

    def session_last_index(self, session: int) -> int:
        """Return the index of the last minute of a session (may lie beyond the tape)."""
        return (self.first_day + session + 1) * MINUTES_PER_DAY - 1 - self.start_minute

    def index_closing_at(self, at: datetime) -> int:
        """Return the index of the candle whose close time is `at` (may lie off the tape)."""
        return int((at - EPOCH).total_seconds() // 60) - 1 - self.start_minute

    def bars_before(self, index: int) -> list[SessionBar]:
        """Return the bars completed at or before `index`."""
        return self.bars[: bisect_right(self.completion_indices, index)]

    def point(self, index: int) -> MarketPoint:
        """Return the market at the close of the candle at `index`."""
        done = bisect_right(self.completion_indices, index)
        just = self.bars[done - 1] if done and self.completion_indices[done - 1] == index else None
        day_start = self.session_first_index[self.session_of(index)]
        candle = self.candle(index)
        return MarketPoint(
            candle=candle,
            session_open=self.candle(day_start).open,
            session_end=session_end(candle.open_time.date()),
            completed_bars=self.bars[:done],
            just_completed=just,
        )

    def _sessions(self) -> None:
        n = len(self)
        self.first_day = self.start_minute // MINUTES_PER_DAY
        last_day = (self.start_minute + n - 1) // MINUTES_PER_DAY if n else self.first_day
        self.session_first_index: list[int] = []
        self.completion_indices: list[int] = []
        self.bars: list[SessionBar] = []
        for day in range(self.first_day, last_day + 1):
            first = max(0, day * MINUTES_PER_DAY - self.start_minute)
            end = (day + 1) * MINUTES_PER_DAY - self.start_minute  # exclusive
            self.session_first_index.append(first)
            if end > n:
                continue  # the last session never completes: no bar (clarification 1)
            self.completion_indices.append(end - 1)
            self.bars.append(self._bar(first, end))

    def _bar(self, first: int, end: int) -> SessionBar:
        high_at = first + int(np.argmax(self.high[first:end]))
        low_at = first + int(np.argmin(self.low[first:end]))
        opening = self.candle(first)
        return SessionBar(
            day=opening.open_time.date(),
            open=opening.open,
            high=self.candle(high_at).high,
            low=self.candle(low_at).low,
            close=self.candle(end - 1).close,
            first_open_time=opening.open_time,
        )


def slack(price: float) -> float:
    """Return a float margin far wider than float64's error on a price read from text.

    Scans over float arrays use it so that they never miss a candle the exact Decimal rule
    would accept; the exact rule then decides at each candidate.
    """
    return abs(price) * 1e-9 + 1e-9
