"""The market feed: interruptions and resumptions recorded once each, by kind."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.candles.market_feed import FeedInterruption, FeedStatus, MarketFeed, market_feed_id
from domain.errors import MissingTextError
from domain.events import Cause

T0 = datetime(2023, 3, 11, 4, 0, tzinfo=UTC)


def at(minutes: int) -> Cause:
    return Cause(T0 + timedelta(minutes=minutes), "ingest", "live", "live")


def opened() -> MarketFeed:
    feed = MarketFeed.open(market="KRW-BTC", cause=at(0))
    feed.collect_events()
    return feed


def test_a_feed_opens_up_with_an_id_derived_from_its_market() -> None:
    feed = MarketFeed.open(market="KRW-BTC", cause=at(0))
    (event,) = feed.collect_events()
    assert isinstance(event, MarketFeed.Opened)
    assert feed.id == market_feed_id("KRW-BTC") and feed.status is FeedStatus.UP


def test_an_interruption_is_recorded_with_its_kind_and_when_it_began() -> None:
    feed = opened()
    assert feed.interrupt(FeedInterruption.MAINTENANCE, "403 market_offline", cause=at(3))
    (event,) = feed.collect_events()
    assert isinstance(event, MarketFeed.Interrupted)
    assert (event.kind, event.detail) == ("maintenance", "403 market_offline")
    assert event.occurred_at_kst.hour == 13  # 04:03 UTC = 13:03 KST
    assert (feed.status, feed.down_since) == (FeedStatus.DOWN, T0 + timedelta(minutes=3))


def test_the_same_interruption_reported_again_records_nothing() -> None:
    feed = opened()
    feed.interrupt(FeedInterruption.OUTAGE, "503", cause=at(1))
    feed.collect_events()
    assert not feed.interrupt(FeedInterruption.OUTAGE, "503 again", cause=at(2))
    assert feed.collect_events() == []


def test_a_change_of_kind_is_recorded_but_the_outage_keeps_its_start() -> None:
    feed = opened()
    feed.interrupt(FeedInterruption.CONNECTION_LOST, "closed 1012", cause=at(1))
    assert feed.interrupt(FeedInterruption.MAINTENANCE, "market_offline", cause=at(2))
    assert len(feed.collect_events()) == 2
    assert feed.resume(backfilled=7, cause=at(9))
    (event,) = feed.collect_events()
    assert isinstance(event, MarketFeed.Resumed)
    assert (event.kind, event.backfilled) == ("maintenance", 7)
    assert event.down_since == T0 + timedelta(minutes=1)
    assert feed.status is FeedStatus.UP and feed.interruption is None


def test_resuming_a_feed_that_is_up_records_nothing() -> None:
    feed = opened()
    assert not feed.resume(backfilled=0, cause=at(1))
    assert feed.collect_events() == []


def test_an_interruption_must_say_what_happened() -> None:
    feed = opened()
    with pytest.raises(MissingTextError):
        feed.interrupt(FeedInterruption.OUTAGE, "  ", cause=at(1))
    assert feed.collect_events() == []
