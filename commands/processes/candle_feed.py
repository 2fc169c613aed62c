"""A market's closed 1-minute candles as the log records them, minute after minute, for a run.

The feed reads the candle events appended since its last read and hands out candles in minute
order without gaps: a minute not yet recorded holds back every later one (ingest fills a
confirmed empty minute with a flat synthetic candle, strategies.md "Gap-free stream"). A
candle is handed out once, as first recorded; a correction after that does not reach the run.
Each candle comes with the log position at which it became available to the run (where it was
recorded, or where the minute before it became available, whichever is later): the same
position every time the run re-reads the log, so what happened in the log before a candle
(`commands/risk/outside_changes.py`) is found again at the same candle.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

from commands.trading import Trading
from domain.candles.candle import Candle
from domain.candles.candle_hour import CandleHour, CandleRow

TOPICS = [CandleHour.Opened.TOPIC, CandleHour.Ingested.TOPIC, CandleHour.Corrected.TOPIC]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_MINUTE = timedelta(minutes=1)


def minute_number(at: datetime) -> int:
    """Return the number of whole minutes from the epoch to `at`."""
    return int((at - EPOCH).total_seconds() // 60)


class LogCandleFeed:
    """The candles of one market from `first_candle_at` on, in minute order, each once."""

    def __init__(self, log: Trading, market: str, first_candle_at: datetime) -> None:
        self.log = log
        self.market = market
        self.next_minute = minute_number(first_candle_at)
        self.position = 0
        """The last log position read."""
        self._hours: dict[UUID, datetime] = {}
        self._waiting: dict[int, tuple[Candle, int]] = {}
        self._available = 0
        self.newest_close: datetime | None = None
        """The close time of the newest candle recorded for the market (handed out or not)."""

    @property
    def next_open_time(self) -> datetime:
        """Return the open time of the next candle the run waits for."""
        return EPOCH + self.next_minute * ONE_MINUTE

    def poll(self) -> list[Candle]:
        """Read what the log recorded since the last poll; return the next gap-free candles."""
        return [candle for candle, _ in self.poll_positioned()]

    def poll_positioned(self) -> list[tuple[Candle, int]]:
        """Return the next gap-free candles, each with the log position it became available at."""
        self.read()
        ready: list[tuple[Candle, int]] = []
        while (candle := self.take_ready()) is not None:
            ready.append(candle)
        return ready

    def read(self) -> None:
        """Read what the log recorded since the last read."""
        for position, event in self.log.read_events(TOPICS, after=self.position):
            self.position = position
            if isinstance(event, CandleHour.Opened):
                if event.market == self.market:
                    self._hours[event.originator_id] = event.hour_start
                continue
            hour_start = self._hours.get(event.originator_id)
            if hour_start is None:
                continue
            if isinstance(event, CandleHour.Ingested):
                texts = list(event.rows)
            elif isinstance(event, CandleHour.Corrected):
                texts = [event.corrected]
            else:
                continue
            for text in texts:
                self._take(CandleRow.parse(text).candle(hour_start), position)

    def take_ready(self) -> tuple[Candle, int] | None:
        """Hand out the next candle read, with the position it became available at, if any."""
        waiting = self._waiting.pop(self.next_minute, None)
        if waiting is None:
            return None
        candle, recorded_at = waiting
        self._available = max(self._available, recorded_at)
        self.next_minute += 1
        return candle, self._available

    def resume_position(self) -> int:
        """Return the log position from which a feed restarted here reads the same candles.

        Every candle read and not handed out yet was recorded after it; what is read again
        before the next minute is passed over.
        """
        if not self._waiting:
            return self.position
        return min(recorded_at for _, recorded_at in self._waiting.values()) - 1

    def _take(self, candle: Candle, position: int) -> None:
        minute = minute_number(candle.open_time)
        if self.newest_close is None or candle.close_time > self.newest_close:
            self.newest_close = candle.close_time
        if minute >= self.next_minute:
            self._waiting[minute] = (candle, position)
