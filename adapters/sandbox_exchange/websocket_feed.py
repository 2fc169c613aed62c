"""The sandbox's WebSocket: Upbit's `candle.1m` stream, replayed on the sandbox clock.

After a subscription `[{"ticket"}, {"type": "candle.1m", "codes": [...]}, {"format"?}]` the
feed sends, as each minute closes on the clock, that minute's final candle and then the next
minute's first update (open price only), as Upbit's stream does when trades continue: a client
knows a candle is complete when a later one arrives. A minute without trades sends nothing.
Errors are Upbit's: NO_TICKET, NO_TYPE, NO_CODES, INVALID_PARAM, WRONG_FORMAT.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from fastapi import WebSocket, WebSocketDisconnect

from adapters.sandbox_exchange.clock import SandboxClock
from adapters.sandbox_exchange.json_text import Number, render_json
from adapters.sandbox_exchange.market_data import Bar, SandboxMarket

KST = timedelta(hours=9)
POLL_S = 0.02
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class FeedHub:
    """The open feed connections, so tests can drop them all at once."""

    def __init__(self) -> None:
        self.sockets: set[WebSocket] = set()

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
    try:
        request = await socket.receive_text()
        if request.strip() == "PING":
            await socket.send_text('{"status":"UP"}')
            request = await socket.receive_text()
        codes, problem = _subscription(request, markets)
        if problem is not None:
            await socket.send_text(render_json({"error": problem}))
            await socket.close(code=1008)
            return
        await _stream(socket, [markets[c] for c in codes], clock)
    except WebSocketDisconnect:
        return
    finally:
        hub.sockets.discard(socket)


def _subscription(
    text: str, markets: dict[str, SandboxMarket]
) -> tuple[list[str], dict[str, str] | None]:
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
    codes: list[str] = []
    for part in types:
        if part["type"] != "candle.1m":
            return [], {
                "name": "INVALID_PARAM",
                "message": f"type {part['type']!r} is not served by the sandbox (candle.1m is)",
            }
        if not part.get("codes"):
            return [], {"name": "NO_CODES", "message": "codes are required"}
        for code in part["codes"]:
            if code not in markets:
                return [], {"name": "INVALID_PARAM", "message": f"code {code!r} is not listed"}
            codes.append(code)
    return codes, None


async def _stream(socket: WebSocket, markets: list[SandboxMarket], clock: SandboxClock) -> None:
    last_minute = int(clock.now().timestamp() // 60)
    while True:
        await asyncio.sleep(POLL_S)
        minute = int(clock.now().timestamp() // 60)
        if minute <= last_minute:
            continue
        for boundary in range(last_minute + 1, minute + 1):
            for market in markets:
                closed = market.minute_bars(before=_t(boundary), now=_t(boundary), count=1, unit=1)
                if closed and closed[0].start == _t(boundary - 1):
                    await socket.send_text(render_json(_message(market.market, closed[0])))
                opening = market.minute_bars(
                    before=_t(boundary + 1), now=_t(boundary + 1), count=1, unit=1
                )
                if opening and opening[0].start == _t(boundary):
                    first = replace(
                        opening[0],
                        high=opening[0].open,
                        low=opening[0].open,
                        close=opening[0].open,
                        volume=Decimal(0),
                        value=Decimal(0),
                    )
                    await socket.send_text(render_json(_message(market.market, first)))
        last_minute = minute


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
