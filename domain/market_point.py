"""The market at one candle's close: the candle, its session, and the complete session bars.

Live trading builds it candle by candle (`MarketPointBuilder`); a backtest's fast path reads
the same points off a `CandleTape`. Both must give identical points.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from domain.candles.candle import Candle
from domain.session_bars import SessionBar, SessionBarBuilder
from domain.sessions import session_end, trading_day


@dataclass(frozen=True)
class MarketPoint:
    """What the strategies see of the market at one close."""

    candle: Candle
    session_open: Decimal
    """The open of the first candle of the candle's session."""
    session_end: datetime
    completed_bars: Sequence[SessionBar]
    """Every complete session bar so far, oldest first (including one this candle completed)."""
    just_completed: SessionBar | None


class MarketPointBuilder:
    """Fold closed candles into market points, one per candle."""

    def __init__(self) -> None:
        self.sessions = SessionBarBuilder()
        self.bars: list[SessionBar] = []

    def add(self, candle: Candle) -> MarketPoint:
        """Add the next closed candle; return the market at its close."""
        completed = self.sessions.add(candle)
        self.bars.extend(completed)
        day = trading_day(candle.open_time)
        just = completed[-1] if completed and completed[-1].day == day else None
        current = self.sessions.current
        if just is not None:
            session_open = just.open
        else:
            assert current is not None  # the candle is in the session in progress
            session_open = current.open
        return MarketPoint(candle, session_open, session_end(day), self.bars, just)
