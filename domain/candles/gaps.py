"""Gap filling: one candle per minute, missing minutes as flat synthetic candles.

strategies.md "Gap-free stream": a minute with no trade becomes a candle with open = high =
low = close = the previous close and volume 0, marked synthetic.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from domain.candles.candle import Candle
from domain.errors import InvalidCandleError


def fill_gaps(candles: Iterable[Candle]) -> Iterator[Candle]:
    """Yield the candles with every missing minute filled.

    Raises:
        InvalidCandleError: the candles are not strictly increasing by open time.
    """
    previous: Candle | None = None
    for candle in candles:
        if previous is not None:
            if candle.open_time <= previous.open_time:
                kind = "duplicate" if candle.open_time == previous.open_time else "unsorted"
                raise InvalidCandleError(
                    f"{kind} candle at {candle.open_time.isoformat()} after "
                    f"{previous.open_time.isoformat()}: candles must be strictly increasing"
                )
            while previous.close_time < candle.open_time:
                previous = previous.flat_successor()
                yield previous
        yield candle
        previous = candle
