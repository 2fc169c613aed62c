"""Live ingest: the `candle.1m` WebSocket feed into the log, with REST backfill around it.

A candle is complete when a later one arrives on the feed (Upbit sends no "closed" flag), and
is recorded then, within a second of its minute's end. At start and after every reconnect the
missed span is backfilled over REST; a dropped connection is retried with back-off. Feed
trouble is recorded in the log: `market.feed.interrupted` (connection lost, malformed frame,
exchange outage, maintenance) and `market.feed.resumed` once data flows again (the feed's
first update after the missed span is backfilled). While down, the feed's state says since
when, why and when it tries next (`on_change`, for `ledger status`), and the terminal is told
(`on_notice`): when it goes down, at most once a minute while it stays down, when it is back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import websockets

from adapters.upbit.candle_source import UpbitCandleSource
from adapters.upbit.errors import (
    UpbitBlockedError,
    UpbitMalformedPayloadError,
    UpbitPermanentError,
    UpbitRetryableError,
)
from adapters.upbit.parsing import UpbitCandle
from adapters.upbit.websocket import candle_stream
from commands.handlers import candles
from commands.ingest import backfill, record_closed
from commands.trading import Trading
from domain.candles.candle import Candle
from domain.candles.market_feed import FeedInterruption
from domain.events import Cause

MARKET_OFFLINE = "market_offline"
"""Upbit's error name for a market under maintenance (upbit-api.md §6)."""
REMIND_EVERY = timedelta(minutes=1)
"""How often the terminal is reminded of a feed that stays down."""


@dataclass
class LiveIngestStats:
    """What the live ingest did."""

    recorded: list[Candle] = field(default_factory=list)
    reconnects: int = 0
    interruptions: list[str] = field(default_factory=list)
    feed_events: list[str] = field(default_factory=list)
    """The market.feed.* events this run recorded, in words."""
    down_since: datetime | None = None
    """When the feed went down (None while data flows)."""
    next_try_at: datetime | None = None
    """When the feed tries the exchange again, while down."""
    last_error: str = ""
    """Why the newest try failed, while down."""
    down_reason: str = ""
    """What is wrong, in words ("Upbit unreachable"), while down."""


def interruption_kind(error: Exception) -> FeedInterruption | None:
    """Return what kind of feed interruption `error` is, or None if it is not one."""
    if isinstance(error, UpbitMalformedPayloadError):
        return FeedInterruption.MALFORMED_FRAME
    if isinstance(error, UpbitPermanentError):
        return FeedInterruption.MAINTENANCE if error.name == MARKET_OFFLINE else None
    if isinstance(error, UpbitRetryableError):
        return FeedInterruption.OUTAGE
    if isinstance(error, websockets.WebSocketException | OSError):
        return FeedInterruption.CONNECTION_LOST
    return None


class LiveCandleIngest:
    """Keeps one market's candles flowing from the feed into the log."""

    def __init__(
        self,
        trading: Trading,
        source: UpbitCandleSource,
        websocket_url: str,
        market: str,
        *,
        cause: Callable[[], Cause],
        source_name: str,
        now: Callable[[], datetime],
        on_record: Callable[[list[Candle]], None] | None = None,
        backoff_s: tuple[float, ...] = (0.2, 0.5, 1.0, 2.0, 5.0),
        on_change: Callable[[LiveIngestStats], None] | None = None,
        on_notice: Callable[[str], None] | None = None,
    ) -> None:
        self.trading, self.source, self.url, self.market = trading, source, websocket_url, market
        self.cause, self.source_name, self.now = cause, source_name, now
        self.on_record, self.on_change, self.on_notice = on_record, on_change, on_notice
        self.backoff_s = backoff_s
        self._backfilled = 0
        """Candles backfilled since the feed went down (the resumption reports them)."""
        self._reminded_at: datetime | None = None
        self.stats = LiveIngestStats()
        self.last: Candle | None = None
        self._forming: UpbitCandle | None = None
        self._down = True
        """Whether the feed may be down in the log (at start: a crashed run may have left it)."""

    async def run(self, since: datetime, stop: asyncio.Event) -> LiveIngestStats:
        """Backfill from `since`, then follow the feed until `stop` is set.

        Every interruption is recorded as `market.feed.interrupted` (once per kind while it
        lasts) and its end, after the missed span is backfilled, as `market.feed.resumed`.

        Raises:
            UpbitBlockedError: the exchange blocked us (418): stop all traffic and report.
            UpbitPermanentError: a refusal that retrying cannot change (not maintenance).
        """
        failures = 0
        while not stop.is_set():
            try:
                self._backfilled += self._catch_up(since)
                consumer = asyncio.ensure_future(self._follow(stop))
                stopper = asyncio.ensure_future(stop.wait())
                done, _ = await asyncio.wait(
                    {consumer, stopper}, return_when=asyncio.FIRST_COMPLETED
                )
                for task in (consumer, stopper):
                    if task not in done:
                        task.cancel()
                if consumer in done:
                    consumer.result()
                failures = 0
            except UpbitBlockedError:
                raise
            except (
                websockets.WebSocketException,
                OSError,
                UpbitMalformedPayloadError,
                UpbitRetryableError,
                UpbitPermanentError,
            ) as error:
                kind = interruption_kind(error)
                if kind is None:
                    raise
                self.stats.interruptions.append(f"{type(error).__name__}: {error}")
                self.stats.reconnects += 1
                self._interrupted(kind, error)
                delay = self.backoff_s[min(failures, len(self.backoff_s) - 1)]
                self._tell_down(kind, error, delay)
                await asyncio.sleep(delay)
                failures += 1
            self._forming = None
            if self.last is not None:
                since = self.last.close_time
        return self.stats

    def _interrupted(self, kind: FeedInterruption, error: Exception) -> None:
        detail = f"{type(error).__name__}: {error}"[:500]
        if candles.record_feed_interrupted(
            self.trading, self.market, kind, detail, cause=self.cause()
        ):
            self.stats.feed_events.append(f"interrupted: {kind.value}")
        self._down = True

    def _resumed(self) -> None:
        # Data flows again: the feed sent an update after the missed span was backfilled.
        if not self._down:
            return
        backfilled, self._backfilled = self._backfilled, 0
        if candles.record_feed_resumed(
            self.trading, self.market, backfilled=backfilled, cause=self.cause()
        ):
            self.stats.feed_events.append(f"resumed after {backfilled} candles backfilled")
        self._down = False
        if self.stats.down_since is not None:
            self._notice(
                f"market feed: {self._exchange()} reachable again, data flows "
                f"(down since {_hms(self.stats.down_since)}; {backfilled} candles backfilled)"
            )
        self.stats.down_since = self.stats.next_try_at = None
        self.stats.last_error = self.stats.down_reason = ""
        self._reminded_at = None
        if self.on_change is not None:
            self.on_change(self.stats)

    def _tell_down(self, kind: FeedInterruption, error: Exception, delay_s: float) -> None:
        now = self.now()
        stats = self.stats
        is_new = stats.down_since is None
        stats.down_since = stats.down_since or now
        stats.next_try_at = now + timedelta(seconds=delay_s)
        stats.last_error = " ".join(f"{type(error).__name__}: {error}".split())[:300]
        stats.down_reason = f"{self._exchange()} {_WHAT[kind]}"
        if self.on_change is not None:
            self.on_change(stats)
        if is_new or self._reminded_at is None or now - self._reminded_at >= REMIND_EVERY:
            self._reminded_at = now
            still = "" if is_new else "still "
            self._notice(
                f"market feed: {self._exchange()} {still}{_WHAT[kind]} since "
                f"{_hms(stats.down_since)} ({stats.last_error}); next try at "
                f"{_hms(stats.next_try_at)}, {_tries(stats.reconnects)} so far"
            )

    def _exchange(self) -> str:
        host = urlsplit(self.url).hostname or self.url
        return "Upbit" if host.endswith("upbit.com") else f"the exchange at {host}"

    def _notice(self, line: str) -> None:
        if self.on_notice is not None:
            self.on_notice(line)

    async def _follow(self, stop: asyncio.Event) -> None:
        async for update in candle_stream(self.url, [self.market]):
            self._resumed()
            forming = self._forming
            if forming is not None and update.open_time > forming.open_time:
                self._close(forming)
            if self.last is None or update.open_time > self.last.open_time:
                self._forming = update
            if stop.is_set():
                return

    def _catch_up(self, since: datetime) -> int:
        # Candles starting before the current minute: the forming one is the feed's to close.
        until = self.now().replace(second=0, microsecond=0)
        report = backfill(
            self.trading,
            self.source,
            self.market,
            since=since,
            until=until,
            cause=self.cause,
            source_name=self.source_name,
            after=self.last,
            on_page=self._recorded,
        )
        if report.newest is not None and (
            self.last is None or report.newest.open_time > self.last.open_time
        ):
            self.last = report.newest
        return report.recorded

    def _close(self, update: UpbitCandle) -> None:
        candle = Candle.checked(
            update.open_time,
            update.open,
            update.high,
            update.low,
            update.close,
            update.volume,
            update.value,
        )
        if self.last is not None and candle.open_time <= self.last.open_time:
            return  # already recorded by a backfill
        rows = record_closed(
            self.trading,
            self.market,
            candle,
            previous=self.last,
            source=self.source,
            source_name=self.source_name,
            cause=self.cause,
        )
        self.last = candle
        self._recorded(rows)

    def _recorded(self, candles: list[Candle]) -> None:
        self.stats.recorded.extend(candles)
        if self.on_record is not None:
            self.on_record(candles)


_WHAT = {
    FeedInterruption.CONNECTION_LOST: "unreachable",
    FeedInterruption.OUTAGE: "unreachable",
    FeedInterruption.MAINTENANCE: "market under maintenance",
    FeedInterruption.MALFORMED_FRAME: "sent a malformed frame",
}


def _hms(at: datetime) -> str:
    return f"{at:%H:%M:%S}Z"


def _tries(count: int) -> str:
    return f"{count} {'try' if count == 1 else 'tries'}"
