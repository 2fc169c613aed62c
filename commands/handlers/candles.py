"""Use cases of market data: candle hours recorded or corrected in bulk, the feed's outages.

Candle hours and feeds belong to no account: they are written without a writer turn.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from commands.ledger_port import Ledger
from commands.messages import IngestCandles
from domain.candles.candle_hour import CandleHour, candle_hour_id
from domain.candles.market_feed import FeedInterruption, MarketFeed, market_feed_id
from domain.events import Cause
from domain.market import parse_market


@dataclass(frozen=True)
class CandleIngestReport:
    """What an ingest recorded: new candles, corrections, and hours opened."""

    recorded: int
    corrected: int
    hours_opened: int


def get_candle_hour(ledger: Ledger, market: str, hour_start: datetime) -> CandleHour | None:
    """Return a market's recorded hour of candles, or None."""
    return ledger.find(candle_hour_id(market, hour_start), CandleHour)


def get_market_feed(ledger: Ledger, market: str) -> MarketFeed | None:
    """Return the live-feed record of a market, or None if it never ran."""
    return ledger.find(market_feed_id(market), MarketFeed)


def ingest_candles(
    ledger: Ledger, commands: Sequence[IngestCandles], *, assume_new: bool = False
) -> CandleIngestReport:
    """Record candles of many hours in one transaction; return what was recorded.

    With `assume_new`, every hour is taken to be new (a bulk import's fast path); if one is
    not, the write conflicts and the batch is decided again hour by hour.

    Raises:
        CandleConflictError: a candle differs from the recorded one (nothing is written).
    """
    if assume_new:
        try:
            return _ingest(ledger, commands, load=False)
        except IntegrityError:
            pass  # some hour exists already: look each one up
    return ledger.retrying(
        lambda: _ingest(ledger, commands, load=True), "ingest candles", in_turn=False
    )


def _ingest(ledger: Ledger, commands: Sequence[IngestCandles], *, load: bool) -> CandleIngestReport:
    hours: dict[UUID, CandleHour] = {}
    recorded = corrected = opened = 0
    for command in commands:
        market = parse_market(command.market, ledger.markets).code
        hour_id = candle_hour_id(market, command.hour_start)
        hour = hours.get(hour_id) or (ledger.find(hour_id, CandleHour) if load else None)
        if hour is None:
            hour = CandleHour.open(
                market=market, hour_start=command.hour_start, cause=command.cause
            )
            opened += 1
        hours[hour_id] = hour
        new, fixed = hour.ingest(
            command.rows,
            source=command.source,
            correct=command.allow_corrections,
            cause=command.cause,
        )
        recorded += new
        corrected += fixed
    ledger.save(*hours.values())
    return CandleIngestReport(recorded=recorded, corrected=corrected, hours_opened=opened)


def record_feed_interrupted(
    ledger: Ledger, market: str, kind: FeedInterruption, detail: str, *, cause: Cause
) -> bool:
    """Record that `market`'s live feed stopped; return False if that was already known."""
    code = parse_market(market, ledger.markets).code

    def attempt() -> bool:
        feed = ledger.find(market_feed_id(code), MarketFeed)
        if feed is None:
            feed = MarketFeed.open(market=code, cause=cause)
        changed = feed.interrupt(kind, detail, cause=cause)
        if changed:
            ledger.save(feed)
        return changed

    return ledger.retrying(attempt, "record a feed interruption", in_turn=False)


def record_feed_resumed(ledger: Ledger, market: str, *, backfilled: int, cause: Cause) -> bool:
    """Record that `market`'s live feed flows again; return False if it was not down."""
    code = parse_market(market, ledger.markets).code

    def attempt() -> bool:
        feed = ledger.find(market_feed_id(code), MarketFeed)
        if feed is None or not feed.resume(backfilled=backfilled, cause=cause):
            return False
        ledger.save(feed)
        return True

    return ledger.retrying(attempt, "record a feed resumption", in_turn=False)
