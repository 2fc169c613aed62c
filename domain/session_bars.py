"""Session bars: one bar per trading session, built from its 1-minute candles.

strategies.md "Session": first open, max high, min low, last close (the summed volume and value
of the definition are used by no rule, so bars do not carry them); a bar is complete when a
candle closes with `close_time >=` the session's end. The first session of a stream may be
partial and still counts (clarification 1).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal

from domain.candles.candle import Candle
from domain.sessions import session_end, trading_day


@dataclass(frozen=True)
class SessionBar:
    """The OHLCV bar of one trading session."""

    day: date
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    first_open_time: datetime

    @property
    def end(self) -> datetime:
        """Return the UTC instant the session ends."""
        return session_end(self.day)

    def extended(self, candle: Candle) -> SessionBar:
        """Return the bar with one more candle of its session."""
        return replace(
            self,
            high=max(self.high, candle.high),
            low=min(self.low, candle.low),
            close=candle.close,
        )

    @classmethod
    def started_by(cls, candle: Candle) -> SessionBar:
        """Return the bar of the session that `candle` opens."""
        return cls(
            day=trading_day(candle.open_time),
            open=candle.open,
            high=candle.high,
            low=candle.low,
            close=candle.close,
            first_open_time=candle.open_time,
        )


class SessionBarBuilder:
    """Fold candles into session bars; hand out each bar once it is complete."""

    def __init__(self) -> None:
        self.current: SessionBar | None = None
        """The bar of the session in progress (None before the first candle)."""

    def add(self, candle: Candle) -> tuple[SessionBar, ...]:
        """Add the next candle; return the bars this candle completed (usually none)."""
        completed: list[SessionBar] = []
        current = self.current
        if current is not None and trading_day(candle.open_time) != current.day:
            # A candle of a later session closes after the current one's end.
            completed.append(current)
            current = None
        current = SessionBar.started_by(candle) if current is None else current.extended(candle)
        if candle.close_time >= current.end:
            completed.append(current)
            current = None
        self.current = current
        return tuple(completed)
