"""Live ingest from the sandbox over a replayed day, the WebSocket dropped twice."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
import uvicorn

from adapters.market_data.candles_csv import read_tape
from adapters.sandbox_exchange.app import create_sandbox_app
from adapters.sandbox_exchange.clock import SandboxClock
from adapters.sandbox_exchange.market_data import SandboxMarket
from adapters.upbit.candle_source import UpbitCandleSource
from adapters.upbit.live_ingest import LiveCandleIngest
from adapters.upbit.rest import UpbitRestClient
from commands.candle_history import candle_tape_from_log
from commands.trading import Trading
from domain.events import Cause
from tests.integration.sandbox.conftest import FIXTURE, file_rows

DAY = datetime(2023, 3, 11, tzinfo=UTC)
SPEED = 4800.0  # a market day in 18 s


@pytest.fixture
def running_sandbox() -> Iterator[tuple[str, SandboxClock]]:
    clock = SandboxClock(DAY, speed=SPEED)
    clock.set(DAY, frozen=True)
    app = create_sandbox_app({"KRW-BTC": SandboxMarket("KRW-BTC", read_tape(FIXTURE))}, clock)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield f"127.0.0.1:{port}", clock
    server.should_exit = True
    thread.join(timeout=10)


def test_live_ingest_of_a_day_with_two_drops_records_every_minute_once(
    running_sandbox: tuple[str, SandboxClock], trading: Trading
) -> None:
    host, clock = running_sandbox
    client = UpbitRestClient(f"http://{host}")
    ingest = LiveCandleIngest(
        trading,
        UpbitCandleSource(client),
        f"ws://{host}/websocket/v1",
        "KRW-BTC",
        cause=lambda: Cause(clock.now(), "ingest", "live-test", "live-test"),
        source_name="sandbox",
        now=clock.now,
        backoff_s=(0.05,),
    )
    last_minute = DAY + timedelta(hours=23, minutes=59)

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.ensure_future(ingest.run(DAY, stop))
        await asyncio.sleep(0.5)
        clock.set(DAY, frozen=False)  # the market opens: 1 day in 18 s
        async with httpx.AsyncClient() as http:
            for _ in range(2):  # drop the feed twice
                await asyncio.sleep(5.0)
                await http.post(f"http://{host}/sandbox/websocket/drop")
            await asyncio.sleep(3.0)  # then send a truncated frame
            await http.post(
                f"http://{host}/sandbox/websocket/inject",
                json={"text": '{"type":"candle.1m","code":"KRW-B'},
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if ingest.last is not None and ingest.last.open_time >= last_minute:
                break
            await asyncio.sleep(0.1)
        stop.set()
        await asyncio.wait_for(task, timeout=30)

    asyncio.run(scenario())
    client.close()

    # Then the feed was lost three times (two drops, one bad frame) and resumed each time,
    # and the log holds every minute exactly once
    assert ingest.stats.reconnects >= 3
    assert any("UpbitMalformedPayloadError" in i for i in ingest.stats.interruptions)
    tape = candle_tape_from_log(trading, "KRW-BTC", start=DAY, end=DAY + timedelta(days=1))
    assert tape is not None and len(tape) == 1440
    topics = [n.topic for n in trading.recorder.select_notifications(start=None, limit=10**6)]
    assert "market.candle.corrected" not in topics
    rows = file_rows()
    for i in range(1440):
        candle = tape.candle(i)
        expected = rows.get(candle.open_time)
        if expected is None:
            assert candle.open_time == datetime(2023, 3, 11, 19, 38, tzinfo=UTC)
            assert candle.volume == 0 and candle.open == candle.close
        else:
            assert (candle.open, candle.high, candle.low, candle.close, candle.volume) == tuple(
                Decimal(x) for x in expected[:5]
            )
    recorded = [c.open_time for c in ingest.stats.recorded]
    assert len(recorded) == len(set(recorded))
