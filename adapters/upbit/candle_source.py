"""Upbit (or the sandbox) as the write side's `CandleSource`: closed 1-minute candles by REST."""

from __future__ import annotations

from datetime import datetime

from adapters.upbit.rest import UpbitRestClient
from domain.candles.candle import Candle


class UpbitCandleSource:
    """Pages of closed minute candles from the REST API, as domain candles."""

    def __init__(self, client: UpbitRestClient) -> None:
        self.client = client

    def candles_before(self, market: str, before: datetime, count: int) -> list[Candle]:
        """Return up to `count` closed candles starting before `before`, oldest first."""
        return [
            Candle.checked(c.open_time, c.open, c.high, c.low, c.close, c.volume, c.value)
            for c in self.client.get_minute_candles(market, to=before, count=count)
        ]
