"""A paced sandbox through its control client: held, released to a time, candles only up to it.

The clock runs on a wall the test moves by hand, so nothing depends on how fast this machine is.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from adapters.market_data.candles_csv import read_tape
from adapters.sandbox_exchange.app import create_sandbox_app
from adapters.sandbox_exchange.clock import SandboxClock
from adapters.sandbox_exchange.control import SandboxControl, SandboxControlRefusedError
from adapters.sandbox_exchange.market_data import SandboxMarket
from adapters.upbit.parsing import UpbitCandle
from adapters.upbit.rest import UpbitRestClient
from adapters.upbit.websocket import candle_stream
from tests.integration.sandbox.conftest import FIXTURE, served

START = datetime(2023, 3, 12, 6, 30, tzinfo=UTC)
SPEED = 60.0  # a market minute per wall second


class Wall:
    """A wall clock the test moves by hand."""

    def __init__(self) -> None:
        self.s = 0.0

    def __call__(self) -> float:
        return self.s


@dataclass
class Paced:
    url: str
    wall: Wall
    control: SandboxControl
    client: UpbitRestClient

    def newest_candle(self) -> datetime:
        (candle,) = self.client.get_minute_candles("KRW-BTC", count=1)
        return candle.open_time


@pytest.fixture
def paced() -> Iterator[Paced]:
    wall = Wall()
    clock = SandboxClock(START, speed=SPEED, wall=wall, paced=True)
    app = create_sandbox_app({"KRW-BTC": SandboxMarket("KRW-BTC", read_tape(FIXTURE))}, clock)
    with served(app) as url, SandboxControl(url) as control, UpbitRestClient(url) as client:
        yield Paced(url, wall, control, client)


def test_a_paced_sandbox_holds_at_its_start_and_names_the_files_candle_span(
    paced: Paced,
) -> None:
    paced.wall.s += 3600
    status = paced.control.status()
    assert (status.now, status.until, status.speed) == (START, START, SPEED)
    assert status.first_candle_at == datetime(2023, 3, 9, tzinfo=UTC)
    assert status.last_candle_at == datetime(2023, 3, 16, 23, 59, tzinfo=UTC)
    assert not status.is_used_up
    assert paced.newest_candle() == START - timedelta(minutes=1)


def test_a_released_clock_holds_at_until_and_continues_from_there_when_released_again(
    paced: Paced,
) -> None:
    until = START + timedelta(minutes=3)
    paced.control.release(until)
    paced.wall.s += 1
    assert paced.control.status().now == START + timedelta(minutes=1)
    assert paced.newest_candle() == START  # 06:30 has closed, 06:31 is forming
    paced.wall.s += 3600  # an hour of wall time held at until
    assert paced.control.status().now == until
    assert paced.newest_candle() == until - timedelta(minutes=1)
    released = paced.control.release(until + timedelta(minutes=2))
    assert released.now == until  # no jump by the wall time spent holding
    paced.wall.s += 1
    assert paced.control.status().now == until + timedelta(minutes=1)
    assert paced.newest_candle() == until


def test_a_release_earlier_than_now_is_refused_naming_both_times(paced: Paced) -> None:
    paced.control.release(START + timedelta(minutes=2))
    paced.wall.s += 100
    with pytest.raises(SandboxControlRefusedError) as refused:
        paced.control.release(START + timedelta(minutes=1))
    assert refused.value.name == "until_before_now"
    assert "06:31:00" in str(refused.value) and "06:32:00" in str(refused.value)
    assert paced.control.status().until == START + timedelta(minutes=2)


def test_setting_the_clock_at_a_time_still_works_beside_pacing(paced: Paced) -> None:
    later = START + timedelta(minutes=10)
    status = paced.control.set_clock(later, frozen=True)
    assert (status.now, status.until, status.is_frozen) == (later, later, True)
    assert paced.newest_candle() == later - timedelta(minutes=1)


def test_the_websocket_sends_candles_only_up_to_the_hold_point(paced: Paced) -> None:
    until = START + timedelta(minutes=2)

    async def scenario() -> list[UpbitCandle]:
        stream = candle_stream(
            f"ws://{paced.url.removeprefix('http://')}/websocket/v1", ["KRW-BTC"]
        )
        received: list[UpbitCandle] = []

        async def read() -> None:
            async for candle in stream:
                received.append(candle)

        reader = asyncio.ensure_future(read())
        await asyncio.sleep(0.3)  # the subscription is open
        paced.control.release(until)
        paced.wall.s += 3600  # far past until: the clock holds there
        for _ in range(100):
            await asyncio.sleep(0.05)
            if received and received[-1].open_time == until:
                break
        await asyncio.sleep(0.3)  # anything beyond the hold point would arrive now
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
        return received

    received = asyncio.run(scenario())
    closed = [c for c in received if c.volume > 0]
    assert [c.open_time for c in closed] == [START, START + timedelta(minutes=1)]
    assert received[-1].open_time == until and received[-1].volume == 0  # forming: open only
    assert max(c.open_time for c in received) == until
