"""Live ingest from the sandbox over a replayed day, the WebSocket dropped twice."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from adapters.market_data.candles_csv import read_tape
from adapters.sandbox_exchange.app import create_sandbox_app
from adapters.sandbox_exchange.clock import SandboxClock
from adapters.sandbox_exchange.market_data import SandboxMarket
from adapters.upbit.candle_source import UpbitCandleSource
from adapters.upbit.live_ingest import LiveCandleIngest
from adapters.upbit.rest import UpbitRestClient
from commands.candle_history import candle_tape_from_log
from commands.trading import Trading
from domain.candles.market_feed import MarketFeed
from domain.events import Cause
from tests.integration.sandbox.conftest import FIXTURE, file_rows, served

DAY = datetime(2023, 3, 11, tzinfo=UTC)
SPEED = 4800.0  # a market day in 18 s


@pytest.fixture
def running_sandbox() -> Iterator[tuple[str, SandboxClock]]:
    clock = SandboxClock(DAY, speed=SPEED)
    clock.set(DAY, frozen=True)
    app = create_sandbox_app({"KRW-BTC": SandboxMarket("KRW-BTC", read_tape(FIXTURE))}, clock)
    with served(app) as url:
        yield url.removeprefix("http://"), clock


def live_ingest(trading: Trading, host: str, clock: SandboxClock) -> LiveCandleIngest:
    return LiveCandleIngest(
        trading,
        UpbitCandleSource(UpbitRestClient(f"http://{host}")),
        f"ws://{host}/websocket/v1",
        "KRW-BTC",
        cause=lambda: Cause(clock.now(), "ingest", "live-test", "live-test"),
        source_name="sandbox",
        now=clock.now,
        backoff_s=(0.05, 0.2),
    )


def feed_events(trading: Trading) -> list[MarketFeed.Interrupted | MarketFeed.Resumed]:
    """The feed's interruptions and resumptions in the log, in order."""
    events = [
        trading.mapper.to_domain_event(n)
        for n in trading.recorder.select_notifications(start=None, limit=10**6)
        if n.topic in ("market.feed.interrupted", "market.feed.resumed")
    ]
    return [e for e in events if isinstance(e, MarketFeed.Interrupted | MarketFeed.Resumed)]


def assert_every_minute_once(trading: Trading, ingest: LiveCandleIngest, end: datetime) -> None:
    minutes = int((end - DAY).total_seconds() // 60)
    tape = candle_tape_from_log(trading, "KRW-BTC", start=DAY, end=end)
    assert tape is not None and len(tape) == minutes
    topics = [n.topic for n in trading.recorder.select_notifications(start=None, limit=10**6)]
    assert "market.candle.corrected" not in topics
    rows = file_rows()
    for i in range(minutes):
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


async def wait_until_recorded(ingest: LiveCandleIngest, last_minute: datetime) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if ingest.last is not None and ingest.last.open_time >= last_minute:
            return
        await asyncio.sleep(0.1)


def test_live_ingest_of_a_day_with_two_drops_records_every_minute_once(
    running_sandbox: tuple[str, SandboxClock], trading: Trading
) -> None:
    host, clock = running_sandbox
    ingest = live_ingest(trading, host, clock)
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
        await wait_until_recorded(ingest, last_minute)
        stop.set()
        await asyncio.wait_for(task, timeout=30)

    asyncio.run(scenario())

    # Then the feed was lost three times (two drops, one bad frame) and resumed each time,
    # each recorded in the log, and the log holds every minute exactly once
    assert ingest.stats.reconnects == 3
    assert [(type(e).__name__, e.kind) for e in feed_events(trading)] == [
        ("Interrupted", "connection_lost"),
        ("Resumed", "connection_lost"),
        ("Interrupted", "connection_lost"),
        ("Resumed", "connection_lost"),
        ("Interrupted", "malformed_frame"),
        ("Resumed", "malformed_frame"),
    ]
    assert_every_minute_once(trading, ingest, DAY + timedelta(days=1))


def test_exchange_maintenance_and_an_outage_are_recorded_and_their_minutes_backfilled(
    running_sandbox: tuple[str, SandboxClock], trading: Trading
) -> None:
    host, clock = running_sandbox
    ingest = live_ingest(trading, host, clock)
    end = DAY + timedelta(hours=3)

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.ensure_future(ingest.run(DAY, stop))
        await asyncio.sleep(0.5)
        clock.speed = 1200.0  # 3 market hours in 9 s
        clock.set(DAY, frozen=False)
        async with httpx.AsyncClient() as http:
            for mode, after_s in (
                ("maintenance", 1.5),
                ("none", 2.0),
                ("down", 1.5),
                ("none", 2.0),
            ):
                await asyncio.sleep(after_s)
                answer = await http.post(f"http://{host}/sandbox/outage", json={"mode": mode})
                assert answer.status_code == 200
        await wait_until_recorded(ingest, end - timedelta(minutes=1))
        stop.set()
        await asyncio.wait_for(task, timeout=30)

    asyncio.run(scenario())

    # Then each outage is in the log by kind, and its end with the minutes backfilled
    events = feed_events(trading)
    kinds = [(type(e).__name__, e.kind) for e in events]
    assert ("Interrupted", "maintenance") in kinds and ("Interrupted", "outage") in kinds
    resumed = [e for e in events if isinstance(e, MarketFeed.Resumed)]
    assert [e.kind for e in resumed] == ["maintenance", "outage"]
    assert all(e.backfilled > 0 and e.down_since < e.occurred_at for e in resumed)
    assert kinds.count(("Interrupted", "maintenance")) == 1  # retries record nothing more
    assert_every_minute_once(trading, ingest, end)
