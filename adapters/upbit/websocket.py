"""Upbit's public WebSocket: the `candle.1m` stream of one or more markets (upbit-api.md §8).

Frames may be text or binary JSON; a frame that is not JSON, is truncated, or is an error
object raises a named error. Keep-alive pings every 30 s (the server drops a connection after
about 120 s of silence).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Sequence

import websockets

from adapters.upbit.errors import UpbitMalformedPayloadError, UpbitPermanentError
from adapters.upbit.parsing import UpbitCandle, loads, parse_candle

PING_INTERVAL_S = 30.0


def websocket_url(rest_url: str, upbit_rest_url: str, upbit_websocket_url: str) -> str:
    """Return the WebSocket URL beside a REST URL: Upbit's own, or a sandbox's `/websocket/v1`."""
    if rest_url == upbit_rest_url:
        return upbit_websocket_url
    ws = rest_url.replace("https://", "wss://").replace("http://", "ws://")
    return ws.rstrip("/") + "/websocket/v1"


async def candle_stream(url: str, markets: Sequence[str]) -> AsyncIterator[UpbitCandle]:
    """Yield every candle update of `markets` until the connection ends.

    Raises:
        UpbitMalformedPayloadError: a frame is not a candle message.
        UpbitPermanentError: the server answered the subscription with an error.
        websockets.ConnectionClosed / OSError: the connection dropped or could not be made.
    """
    subscription = [
        {"ticket": str(uuid.uuid4())},
        {"type": "candle.1m", "codes": list(markets)},
        {"format": "DEFAULT"},
    ]
    async with websockets.connect(
        url, ping_interval=PING_INTERVAL_S, open_timeout=10, max_size=2**20
    ) as socket:
        await socket.send(json.dumps(subscription))
        async for frame in socket:
            payload = loads(frame if isinstance(frame, str) else bytes(frame))
            if isinstance(payload, dict) and "error" in payload:
                error = payload["error"] if isinstance(payload["error"], dict) else {}
                raise UpbitPermanentError(
                    f"Upbit WebSocket refused the subscription: {error.get('name')}: "
                    f"{error.get('message')}",
                    name=str(error.get("name")),
                    upbit_message=str(error.get("message")),
                )
            if not isinstance(payload, dict) or payload.get("type") != "candle.1m":
                raise UpbitMalformedPayloadError(
                    f"a candle.1m message was expected, {str(payload)[:120]!r} was found"
                )
            yield parse_candle(payload)
