"""The MarketFeed aggregate: whether a market's live data is flowing, and every interruption.

An interruption of the live feed (the connection lost, a malformed frame, the exchange down or
in maintenance) is a fact the log must show, because candles missed while it lasted come from a
later REST backfill: `market.feed.interrupted` when it starts (or changes kind), and
`market.feed.resumed` once the feed is back and the missed span has been backfilled. Repeated
reports of the same interruption (reconnect attempts in a long outage) record nothing.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.events import Cause, LedgerCreated, LedgerEvent, create_aggregate, require_text
from domain.ids import derive_id


class FeedInterruption(StrEnum):
    """Why a market's live feed stopped."""

    CONNECTION_LOST = "connection_lost"
    """The WebSocket closed or could not be opened; the exchange may be fine."""
    MALFORMED_FRAME = "malformed_frame"
    """The feed sent something that is not a valid message (non-JSON, truncated)."""
    OUTAGE = "outage"
    """The exchange's REST API is unreachable or failing (timeouts, 5xx) after retries."""
    MAINTENANCE = "maintenance"
    """The exchange says the market is offline for maintenance (`market_offline`)."""


class FeedStatus(StrEnum):
    """Whether live data is flowing."""

    UP = "up"
    DOWN = "down"


def market_feed_id(market: str) -> UUID:
    """Return the id of a market's feed record."""
    return derive_id("market-feed", market)


class MarketFeed(Aggregate):
    """The live feed of one market: up, or down since an interruption of some kind."""

    class Opened(LedgerCreated):
        """The market's live feed was started for the first time."""

        TOPIC = "market.feed.opened"
        market: str

        def apply(self, feed: MarketFeed) -> None:
            """Evolve the feed's state by this event."""
            feed.market = self.market
            feed.status = FeedStatus.UP
            feed.interruption = None
            feed.down_since = None

    class Interrupted(LedgerEvent):
        """Live data stopped (or the reason it is stopped changed): `kind`, in words `detail`."""

        TOPIC = "market.feed.interrupted"
        kind: str
        detail: str

        def apply(self, feed: MarketFeed) -> None:
            """Evolve the feed's state by this event."""
            if feed.status is FeedStatus.UP:
                feed.down_since = self.occurred_at
            feed.status = FeedStatus.DOWN
            feed.interruption = FeedInterruption(self.kind)

    class Resumed(LedgerEvent):
        """Live data flows again; the span missed while down was backfilled over REST."""

        TOPIC = "market.feed.resumed"
        kind: str
        """The kind of the interruption that ended."""
        down_since: datetime
        backfilled: int
        """Candles recorded by the backfill of the missed span."""

        def apply(self, feed: MarketFeed) -> None:
            """Evolve the feed's state by this event."""
            feed.status = FeedStatus.UP
            feed.interruption = None
            feed.down_since = None

    market: str
    status: FeedStatus
    interruption: FeedInterruption | None
    down_since: datetime | None

    def __init__(self) -> None:
        """State is set by the Opened event; see `open`."""

    @classmethod
    def open(cls, *, market: str, cause: Cause) -> MarketFeed:
        """Open the feed record of `market` (status up)."""
        return create_aggregate(
            cls,
            cls.Opened,
            id=market_feed_id(market),
            market=require_text(market, "market"),
            **cause.event_fields(),
        )

    def interrupt(self, kind: FeedInterruption, detail: str, *, cause: Cause) -> bool:
        """Record that live data stopped for `kind`; return False if that is already known."""
        if self.status is FeedStatus.DOWN and self.interruption is kind:
            return False
        self.trigger_event(
            self.Interrupted,
            kind=FeedInterruption(kind).value,
            detail=require_text(detail, "detail"),
            **cause.event_fields(),
        )
        return True

    def resume(self, *, backfilled: int, cause: Cause) -> bool:
        """Record that live data flows again; return False if it was not down."""
        if self.status is FeedStatus.UP:
            return False
        assert self.interruption is not None and self.down_since is not None
        self.trigger_event(
            self.Resumed,
            kind=self.interruption.value,
            down_since=self.down_since,
            backfilled=backfilled,
            **cause.event_fields(),
        )
        return True
