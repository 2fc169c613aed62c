"""The sandbox's tickers, trades and order books, derived from the replayed 1-minute candles.

The files hold candles, not ticks, so each closed minute with trades stands for one trade: at
its close, for its whole volume, at its last trade time, taker side BID when the minute rose
(ASK otherwise). The ticker sums those minutes over the UTC day and the last 24 h, as Upbit's
does (traded KRW estimated as volume x the minute's mid price); the order book is a synthetic
ladder of ticks around the last price (the files have no book), sized from the last minute's
volume. Prices are served as Upbit's JSON numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np

from adapters.sandbox_exchange.json_text import Number
from adapters.sandbox_exchange.market_data import SandboxMarket
from domain.money import floor8
from domain.ticks import tick_size

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
KST = timedelta(hours=9)
DAY_MINUTES = 1440
YEAR_MINUTES = 365 * DAY_MINUTES


@dataclass(frozen=True)
class Trade:
    """One minute served as one trade."""

    index: int
    price: str
    volume: Decimal
    at: datetime
    ask_bid: str

    @property
    def sequential_id(self) -> int:
        """Return an id in Upbit's style (the trade's milliseconds x 10,000)."""
        return int(self.at.timestamp() * 1000) * 10000


def last_closed_index(market: SandboxMarket, now: datetime) -> int:
    """Return the tape index of the newest minute closed by `now` (-1 if none)."""
    minute = int((now.astimezone(UTC) - EPOCH) // timedelta(minutes=1))
    return min(minute - market.tape.start_minute - 1, len(market.tape) - 1)


def trades_before(market: SandboxMarket, end: int, count: int) -> list[Trade]:
    """Return up to `count` trades of the minutes up to index `end` (inclusive), newest first."""
    tape = market.tape
    found: list[Trade] = []
    index = end
    while index >= 0 and len(found) < count:
        if not tape.is_synthetic[index]:
            row = tape.row_text(int(tape.row_of[index]))
            found.append(
                Trade(
                    index=index,
                    price=row[3],
                    volume=Decimal(row[4]),
                    at=tape.open_time(index) + timedelta(seconds=59, milliseconds=999),
                    ask_bid="BID" if tape.close[index] >= tape.open[index] else "ASK",
                )
            )
        index -= 1
    return found


def trade_body(market: SandboxMarket, trade: Trade) -> dict[str, Any]:
    """Return a trade as GET /v1/trades/ticks shows it."""
    previous = _previous_day_close(market, trade.index)
    return {
        "market": market.market,
        "trade_date_utc": trade.at.strftime("%Y-%m-%d"),
        "trade_time_utc": trade.at.strftime("%H:%M:%S"),
        "timestamp": int(trade.at.timestamp() * 1000),
        "trade_price": Number(trade.price),
        "trade_volume": trade.volume,
        "prev_closing_price": _number(previous),
        "change_price": _number(float(trade.price) - previous),
        "ask_bid": trade.ask_bid,
        "sequential_id": trade.sequential_id,
    }


def ticker_body(market: SandboxMarket, now: datetime) -> dict[str, Any] | None:
    """Return GET /v1/ticker's body for `market` at `now` (None before its first candle)."""
    tape = market.tape
    last = last_closed_index(market, now)
    if last < 0:
        return None
    newest = trades_before(market, last, 1)
    if not newest:
        return None
    trade = newest[0]
    day_start = max(0, last - (tape.start_minute + last) % DAY_MINUTES)
    day = slice(day_start, last + 1)
    previous = _previous_day_close(market, last)
    price = float(trade.price)
    change = price - previous
    year = slice(max(0, last - YEAR_MINUTES + 1), last + 1)
    high_at = year.start + int(np.argmax(tape.high[year]))
    low_at = year.start + int(np.argmin(tape.low[year]))
    at = trade.at
    return {
        "market": market.market,
        "trade_date": at.strftime("%Y%m%d"),
        "trade_time": at.strftime("%H%M%S"),
        "trade_date_kst": (at + KST).strftime("%Y%m%d"),
        "trade_time_kst": (at + KST).strftime("%H%M%S"),
        "trade_timestamp": int(at.timestamp() * 1000),
        "opening_price": _number(float(tape.open[_first_real(market, day_start, last)])),
        "high_price": _number(float(tape.high[day].max())),
        "low_price": _number(float(tape.low[day].min())),
        "trade_price": Number(trade.price),
        "prev_closing_price": _number(previous),
        "change": "RISE" if change > 0 else "FALL" if change < 0 else "EVEN",
        "change_price": _number(abs(change)),
        "change_rate": _rate(abs(change), previous),
        "signed_change_price": _number(change),
        "signed_change_rate": _rate(change, previous),
        "trade_volume": trade.volume,
        "acc_trade_price": _amount(_value(market, day)),
        "acc_trade_price_24h": _amount(_value(market, _last_day(last))),
        "acc_trade_volume": _volume(market, day),
        "acc_trade_volume_24h": _volume(market, _last_day(last)),
        "highest_52_week_price": _number(float(tape.high[high_at])),
        "highest_52_week_date": (tape.open_time(high_at) + KST).strftime("%Y-%m-%d"),
        "lowest_52_week_price": _number(float(tape.low[low_at])),
        "lowest_52_week_date": (tape.open_time(low_at) + KST).strftime("%Y-%m-%d"),
        "timestamp": int(now.timestamp() * 1000),
    }


def orderbook_body(market: SandboxMarket, now: datetime, levels: int = 30) -> dict[str, Any]:
    """Return a synthetic book: bids from the last price down, asks from one tick above."""
    last = last_closed_index(market, now)
    price = Decimal(market.tape.row_text(int(market.tape.row_of[max(last, 0)]))[3])
    tick = tick_size(price, now)
    volume = Decimal(repr(float(market.tape.volume[max(last, 0)]))) or Decimal("0.01")
    units: list[dict[str, Any]] = []
    for k in range(levels):
        size = floor8(volume / levels * (1 + Decimal(k) / 10))
        units.append(
            {
                "ask_price": int(price + tick * (k + 1)),
                "bid_price": int(price - tick * k),
                "ask_size": size,
                "bid_size": size,
            }
        )
    total = sum((Decimal(u["ask_size"]) for u in units), Decimal(0))
    return {
        "market": market.market,
        "timestamp": int(now.timestamp() * 1000),
        "total_ask_size": total,
        "total_bid_size": total,
        "orderbook_units": units,
        "level": 0,
    }


def _previous_day_close(market: SandboxMarket, index: int) -> float:
    tape = market.tape
    day_start = index - (tape.start_minute + index) % DAY_MINUTES
    return float(tape.close[day_start - 1] if day_start > 0 else tape.open[max(day_start, 0)])


def _first_real(market: SandboxMarket, start: int, end: int) -> int:
    for index in range(start, end + 1):
        if not market.tape.is_synthetic[index]:
            return index
    return end


def _last_day(last: int) -> slice:
    return slice(max(0, last - DAY_MINUTES + 1), last + 1)


def _value(market: SandboxMarket, span: slice) -> float:
    tape = market.tape
    return float((tape.volume[span] * (tape.high[span] + tape.low[span]) / 2).sum())


def _volume(market: SandboxMarket, span: slice) -> Decimal:
    """Return the exact volume traded in the minutes of `span` (as the file wrote them)."""
    tape = market.tape
    rows = (
        tape.row_text(int(tape.row_of[i]))[4]
        for i in range(span.start, span.stop)
        if not tape.is_synthetic[i]
    )
    return sum((Decimal(text) for text in rows), Decimal(0))


def _number(value: float) -> Number:
    return Number(repr(float(value)))


def _amount(value: float) -> Decimal:
    return Decimal(repr(round(value, 8)))


def _rate(change: float, base: float) -> Decimal:
    return Decimal(repr(round(change / base, 10))) if base else Decimal("0.0")
