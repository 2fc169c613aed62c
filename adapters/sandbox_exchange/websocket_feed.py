"""The sandbox's WebSocket: Upbit's `candle.1m`, `ticker` and `trade` streams, on its clock.

After a subscription `[{"ticket"}, {"type": "candle.1m", "codes": [...]}, {"format"?}]` the
feed sends, as each minute closes on the clock, that minute's final candle and then the next
minute's first update (open price only), as Upbit's stream does when trades continue: a client
knows a candle is complete when a later one arrives. A minute without trades sends nothing.
`trade` sends each closed minute as one trade and `ticker` the ticker after it (see quotes.py).
A stream sends at the moment the clock crosses the minute (woken by the hub when the clock is
released or set, and timed to the crossing while it runs), as Upbit sends when trades happen;
it also looks at the clock every `POLL_S`.
Errors are Upbit's: NO_TICKET, NO_TYPE, NO_CODES, INVALID_PARAM, WRONG_FORMAT.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from fastapi import WebSocket, WebSocketDisconnect

from adapters.sandbox_exchange.clock import SandboxClock
from adapters.sandbox_exchange.json_text import Number, render_json
from adapters.sandbox_exchange.market_data import Bar, SandboxMarket
from adapters.sandbox_exchange.quotes import (
    Trade,
    last_closed_index,
    orderbook_body,
    ticker_body,
    trade_body,
    trades_before,
)

KST = timedelta(hours=9)
POLL_S = 0.02
STREAM_TYPES = ("candle.1m", "ticker", "trade")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class FeedHub:
    """The open feed connections, so tests can drop them all at once."""

    def __init__(self) -> None:
        self.sockets: set[WebSocket] = set()
        self._wakers: set[asyncio.Event] = set()

    def clock_moved(self) -> None:
        """Wake every stream: the clock was released or set, a minute may close now."""
        for waker in self._wakers:
            waker.set()

    def add_waker(self) -> asyncio.Event:
        """Return an event that `clock_moved` sets, until `remove_waker`."""
        waker = asyncio.Event()
        self._wakers.add(waker)
        return waker

    def remove_waker(self, waker: asyncio.Event) -> None:
        """Stop waking this event."""
        self._wakers.discard(waker)

    async def inject(self, text: str) -> int:
        """Send a raw frame (e.g. a truncated one) to every open connection; return how many."""
        for socket in list(self.sockets):
            await socket.send_text(text)
        return len(self.sockets)

    async def drop_all(self) -> int:
        """Close every open feed connection; return how many were open."""
        dropped = list(self.sockets)
        for socket in dropped:
            await socket.close(code=1012)
        return len(dropped)


async def serve_feed(
    socket: WebSocket, markets: dict[str, SandboxMarket], clock: SandboxClock, hub: FeedHub
) -> None:
    """Run one feed connection until the client leaves or the hub drops it."""
    await socket.accept()
    hub.sockets.add(socket)
    waker: asyncio.Event | None = None
    try:
        request = await socket.receive_text()
        if request.strip() == "PING":
            await socket.send_text('{"status":"UP"}')
            request = await socket.receive_text()
        streams, problem = _subscription(request, markets)
        if problem is not None:
            await socket.send_text(render_json({"error": problem}))
            await socket.close(code=1008)
            return
        waker = hub.add_waker()
        sender = asyncio.ensure_future(
            _stream(socket, [(kind, markets[c]) for kind, c in streams], clock, waker)
        )
        listener = asyncio.ensure_future(_until_closed(socket))
        done, pending = await asyncio.wait({sender, listener}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        for task in done:
            task.result()
    except WebSocketDisconnect:
        return
    finally:
        hub.sockets.discard(socket)
        if waker is not None:
            hub.remove_waker(waker)


async def _until_closed(socket: WebSocket) -> None:
    """Answer PINGs until the client leaves (so a quiet stream notices it has gone)."""
    while True:
        message = await socket.receive()
        if message["type"] == "websocket.disconnect":
            return
        if (message.get("text") or "").strip() == "PING":
            await socket.send_text('{"status":"UP"}')


def _subscription(
    text: str, markets: dict[str, SandboxMarket]
) -> tuple[list[tuple[str, str]], dict[str, str] | None]:
    try:
        request = json.loads(text)
    except ValueError:
        return [], {"name": "WRONG_FORMAT", "message": "the request is not JSON"}
    if (
        not isinstance(request, list)
        or not request
        or not isinstance(request[0], dict)
        or "ticket" not in request[0]
    ):
        return [], {"name": "NO_TICKET", "message": "a ticket object must come first"}
    types = [part for part in request[1:] if isinstance(part, dict) and "type" in part]
    if not types:
        return [], {"name": "NO_TYPE", "message": "no type object was found"}
    streams: list[tuple[str, str]] = []
    for part in types:
        if part["type"] not in STREAM_TYPES:
            return [], {
                "name": "INVALID_PARAM",
                "message": f"type {part['type']!r} is not served by the sandbox "
                f"({', '.join(STREAM_TYPES)} are)",
            }
        if not part.get("codes"):
            return [], {"name": "NO_CODES", "message": "codes are required"}
        for code in part["codes"]:
            if code not in markets:
                return [], {"name": "INVALID_PARAM", "message": f"code {code!r} is not listed"}
            streams.append((part["type"], code))
    return streams, None


async def _stream(
    socket: WebSocket,
    streams: list[tuple[str, SandboxMarket]],
    clock: SandboxClock,
    waker: asyncio.Event,
) -> None:
    last_minute = int(clock.now().timestamp() // 60)
    while True:
        await _until_next_minute(clock, waker)
        minute = int(clock.now().timestamp() // 60)
        if minute <= last_minute:
            continue
        for boundary in range(last_minute + 1, minute + 1):
            for kind, market in streams:
                for message in _messages(kind, market, boundary):
                    await socket.send_text(render_json(message))
        last_minute = minute


async def _until_next_minute(clock: SandboxClock, waker: asyncio.Event) -> None:
    # Until the clock crosses the next minute, at most POLL_S; at once when the clock moves.
    state = clock.state()
    wait = POLL_S
    if not state.is_frozen:
        crossing = _t(int(state.now.timestamp() // 60) + 1)
        if state.until is None or crossing <= state.until:
            wait = min(POLL_S, (crossing - state.now).total_seconds() / state.speed)
    if wait > 0:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(waker.wait(), timeout=wait)
    waker.clear()


def _messages(kind: str, market: SandboxMarket, boundary: int) -> list[dict[str, Any]]:
    """Return what a stream of `kind` sends when the minute before `boundary` closes."""
    if kind == "trade":
        trades = trades_before(market, last_closed_index(market, _t(boundary)), 1)
        fresh = [t for t in trades if t.at >= _t(boundary - 1)]
        return [_trade_message(market, t) for t in fresh]
    if kind == "ticker":
        body = ticker_body(market, _t(boundary))
        if body is None or body["trade_timestamp"] < _t(boundary - 1).timestamp() * 1000:
            return []
        return [_ticker_message(body)]
    messages = []
    closed = market.minute_bars(before=_t(boundary), now=_t(boundary), count=1, unit=1)
    if closed and closed[0].start == _t(boundary - 1):
        messages.append(_message(market.market, closed[0]))
    opening = market.minute_bars(before=_t(boundary + 1), now=_t(boundary + 1), count=1, unit=1)
    if opening and opening[0].start == _t(boundary):
        first = replace(
            opening[0],
            high=opening[0].open,
            low=opening[0].open,
            close=opening[0].open,
            volume=Decimal(0),
            value=Decimal(0),
        )
        messages.append(_message(market.market, first))
    return messages


def _trade_message(market: SandboxMarket, trade: Trade) -> dict[str, Any]:
    rest = trade_body(market, trade)
    book = orderbook_body(market, trade.at + timedelta(milliseconds=1), levels=1)
    (best,) = book["orderbook_units"]
    previous = rest["prev_closing_price"]
    change = float(trade.price) - float(previous)
    return {
        "type": "trade",
        "code": market.market,
        "timestamp": rest["timestamp"],
        "trade_date": rest["trade_date_utc"],
        "trade_time": rest["trade_time_utc"],
        "trade_timestamp": rest["timestamp"],
        "trade_price": rest["trade_price"],
        "trade_volume": rest["trade_volume"],
        "ask_bid": trade.ask_bid,
        "prev_closing_price": previous,
        "change": "RISE" if change > 0 else "FALL" if change < 0 else "EVEN",
        "change_price": Number(repr(abs(change))),
        "sequential_id": trade.sequential_id,
        "best_ask_price": best["ask_price"],
        "best_ask_size": best["ask_size"],
        "best_bid_price": best["bid_price"],
        "best_bid_size": best["bid_size"],
        "stream_type": "REALTIME",
    }


def _ticker_message(body: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = {"type": "ticker", "code": body["market"]}
    message.update({k: v for k, v in body.items() if k != "market" and "_kst" not in k})
    half = body["acc_trade_volume"] / 2
    message.update(
        ask_bid="BID" if body["change"] != "FALL" else "ASK",
        acc_ask_volume=half,
        acc_bid_volume=body["acc_trade_volume"] - half,
        market_state="ACTIVE",
        is_trading_suspended=False,
        delisting_date=None,
        market_warning="NONE",
        stream_type="REALTIME",
    )
    return message


def _t(minute: int) -> datetime:
    return EPOCH + timedelta(minutes=minute)


def _message(code: str, bar: Bar) -> dict[str, Any]:
    return {
        "type": "candle.1m",
        "code": code,
        "candle_date_time_utc": bar.start.strftime("%Y-%m-%dT%H:%M:%S"),
        "candle_date_time_kst": (bar.start + KST).strftime("%Y-%m-%dT%H:%M:%S"),
        "opening_price": Number(bar.open),
        "high_price": Number(bar.high),
        "low_price": Number(bar.low),
        "trade_price": Number(bar.close),
        "candle_acc_trade_volume": bar.volume,
        "candle_acc_trade_price": bar.value,
        "timestamp": int(bar.last_trade_at.timestamp() * 1000),
        "stream_type": "REALTIME",
    }
