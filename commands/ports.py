"""The ports the write side needs from the outside world (style S1.1).

They are declared here and filled by adapters.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from domain.candles.candle import Candle


class CandleSource(Protocol):
    """Closed 1-minute candles of an exchange (Upbit REST, or the sandbox)."""

    def candles_before(self, market: str, before: datetime, count: int) -> list[Candle]:
        """Return up to `count` closed candles starting before `before`, oldest first.

        Minutes without trades are absent, as on Upbit.
        """
        ...
