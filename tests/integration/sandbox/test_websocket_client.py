"""The candle.1m client against the sandbox's WebSocket: bad frames are named errors."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from adapters.upbit.errors import UpbitError, UpbitMalformedPayloadError, UpbitPermanentError
from adapters.upbit.websocket import candle_stream
from tests.integration.sandbox.conftest import Sandbox


def first_error_after(sandbox: Sandbox, frame: str) -> UpbitError:
    """Subscribe to candle.1m, have the sandbox send `frame`, return what the client raised."""
    host = sandbox.url.removeprefix("http://")

    async def scenario() -> UpbitError:
        stream = candle_stream(f"ws://{host}/websocket/v1", ["KRW-BTC"])
        reader = asyncio.ensure_future(stream.__anext__())
        async with httpx.AsyncClient() as http:
            for _ in range(50):  # until the subscription is open
                await asyncio.sleep(0.05)
                sent = await http.post(
                    f"{sandbox.url}/sandbox/websocket/inject", json={"text": frame}
                )
                if sent.json()["sent"]:
                    break
        with pytest.raises(UpbitError) as raised:
            await asyncio.wait_for(reader, 5)
        await stream.aclose()
        return raised.value

    return asyncio.run(scenario())


@pytest.mark.parametrize(
    "frame",
    ["not json at all", '{"type":"candle.1m","code":"KRW-B', "", "[1, 2"],
    ids=["non-json", "truncated", "empty", "truncated-list"],
)
def test_a_frame_that_is_not_json_is_a_malformed_payload_error(
    sandbox: Sandbox, frame: str
) -> None:
    error = first_error_after(sandbox, frame)
    assert isinstance(error, UpbitMalformedPayloadError)
    assert "malformed JSON" in str(error)


def test_a_message_of_another_type_is_refused_naming_what_was_found(sandbox: Sandbox) -> None:
    error = first_error_after(sandbox, '{"type":"ticker","code":"KRW-BTC"}')
    assert isinstance(error, UpbitMalformedPayloadError)
    assert "a candle.1m message was expected" in str(error) and "ticker" in str(error)


def test_a_candle_with_missing_fields_is_refused_naming_the_field(sandbox: Sandbox) -> None:
    error = first_error_after(sandbox, '{"type":"candle.1m","code":"KRW-BTC"}')
    assert isinstance(error, UpbitMalformedPayloadError)
    assert "candle_date_time_utc" in str(error)


def test_an_error_object_is_upbits_named_refusal(sandbox: Sandbox) -> None:
    error = first_error_after(sandbox, '{"error":{"name":"INVALID_PARAM","message":"bad"}}')
    assert isinstance(error, UpbitPermanentError) and error.name == "INVALID_PARAM"
