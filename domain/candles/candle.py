"""The closed 1-minute candle of one market (strategies.md "Candle").

Prices in KRW, volume in BTC, value in KRW; `open_time` is the UTC minute the candle starts,
`close_time = open_time + 1 minute`. A synthetic candle fills a minute without trades.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from domain.clock import require_utc
from domain.errors import InvalidCandleError

ONE_MINUTE = timedelta(minutes=1)


@dataclass(frozen=True)
class Candle:
    """One closed 1-minute candle."""

    open_time: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    value: Decimal = Decimal(0)
    is_synthetic: bool = False

    @property
    def close_time(self) -> datetime:
        """Return the end of the candle's minute (exclusive)."""
        return self.open_time + ONE_MINUTE

    @classmethod
    def checked(
        cls,
        open_time: datetime,
        open_: Decimal,
        high: Decimal,
        low: Decimal,
        close: Decimal,
        volume: Decimal,
        value: Decimal = Decimal(0),
        *,
        is_synthetic: bool = False,
    ) -> Candle:
        """Return a candle after checking its invariants.

        Raises:
            InvalidCandleError: the time is not a UTC minute, a price is not positive,
                high/low do not bound open and close, or volume/value is negative.
        """
        at = require_utc(open_time, "candle open time")
        if at.second or at.microsecond:
            raise InvalidCandleError(f"candle open time {at.isoformat()} is not minute-aligned")
        if min(open_, high, low, close) <= 0:
            raise InvalidCandleError(f"candle {at.isoformat()} has a price <= 0")
        if not low <= min(open_, close) or not high >= max(open_, close):
            raise InvalidCandleError(
                f"candle {at.isoformat()}: low {low} and high {high} must bound open {open_} "
                f"and close {close}"
            )
        if volume < 0 or value < 0:
            raise InvalidCandleError(f"candle {at.isoformat()} has a negative volume or value")
        return cls(at, open_, high, low, close, volume, value, is_synthetic)

    def flat_successor(self) -> Candle:
        """Return the synthetic candle of the next minute: flat at this close, no volume."""
        price = self.close
        return Candle(
            self.close_time, price, price, price, price, Decimal(0), Decimal(0), is_synthetic=True
        )
