"""Client behaviour against the sandbox: candles as recorded, errors named, limits kept."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from adapters.market_data.candles_csv import read_tape
from adapters.sandbox_exchange.app import create_sandbox_app
from adapters.sandbox_exchange.clock import SandboxClock
from adapters.sandbox_exchange.market_data import SandboxMarket
from adapters.sandbox_exchange.rate_limits import RateLimiter
from adapters.upbit.errors import UpbitBlockedError, UpbitNotFoundError, UpbitRateLimitedError
from adapters.upbit.parsing import loads
from adapters.upbit.rate_limit import RemainingReq, Throttle, parse_remaining_req
from adapters.upbit.rest import UpbitRestClient
from tests.integration.sandbox.conftest import FIXTURE, NOW, Sandbox, served
from tests.unit.adapters.upbit.samples import shape

SAMPLES = Path(__file__).resolve().parents[3] / "adapters" / "upbit" / "samples"


class BlindThrottle(Throttle):
    """A throttle that ignores the server's Remaining-Req (to provoke a 429 storm)."""

    def observe(self, header: RemainingReq) -> None:
        return None


def file_rows() -> dict[str, list[str]]:
    with gzip.open(FIXTURE, "rt") as handle:
        lines = handle.read().splitlines()[1:]
    return {line[:19]: line.split(",")[1:] for line in lines}


def test_minute_candles_are_the_files_closed_candles_newest_first_up_to_now(
    sandbox: Sandbox,
) -> None:
    with UpbitRestClient(sandbox.url) as client:
        candles = client.get_minute_candles("KRW-BTC", count=200)
    rows = file_rows()
    assert len(candles) == 200
    assert candles[-1].open_time == datetime(2023, 3, 12, 6, 29, tzinfo=UTC)  # closed by 06:30:20
    for candle in candles:
        o, h, lo, c, v = rows[candle.open_time.strftime("%Y-%m-%dT%H:%M:%S")][:5]
        assert (candle.open, candle.high, candle.low, candle.close, candle.volume) == (
            Decimal(o),
            Decimal(h),
            Decimal(lo),
            Decimal(c),
            Decimal(v),
        )


def test_candles_before_to_page_backwards_without_overlap(sandbox: Sandbox) -> None:
    with UpbitRestClient(sandbox.url) as client:
        newer = client.get_minute_candles("KRW-BTC", count=50)
        older = client.get_minute_candles("KRW-BTC", count=50, to=newer[0].open_time)
    assert older[-1].open_time < newer[0].open_time
    assert not {c.open_time for c in older} & {c.open_time for c in newer}


def test_sandbox_candles_have_the_keys_and_types_of_the_recorded_ones(sandbox: Sandbox) -> None:
    recorded = loads((SAMPLES / "candles_minutes.json").read_text())["samples"][0]["interactions"][
        0
    ]["response"]
    served = httpx.get(f"{sandbox.url}/v1/candles/minutes/1", params={"market": "KRW-BTC"})
    body = loads(served.content)[0]
    expected = recorded["body"][0]
    assert set(body) == set(expected)
    assert {k: type(v) for k, v in body.items()} == {k: type(v) for k, v in expected.items()}
    assert parse_remaining_req(served.headers["Remaining-Req"]).group == "candles"
    assert served.headers["Limit-By-Ip"] == "Yes"


def test_sandbox_day_candles_and_market_list_have_the_recorded_keys_and_types(
    sandbox: Sandbox,
) -> None:
    recorded = loads((SAMPLES / "candles_days.json").read_text())["samples"][0]["interactions"][0]
    served = httpx.get(f"{sandbox.url}/v1/candles/days", params={"market": "KRW-BTC", "count": 2})
    newest, older = loads(served.content)
    expected = recorded["response"]["body"][0]
    assert {k: type(v) for k, v in newest.items()} == {k: type(v) for k, v in expected.items()}
    assert newest["prev_closing_price"] == older["trade_price"]
    assert newest["change_price"] == newest["trade_price"] - older["trade_price"]
    listing = loads((SAMPLES / "market_all.json").read_text())["samples"][0]["interactions"][0]
    served = httpx.get(f"{sandbox.url}/v1/market/all", params={"is_details": "true"})
    (market,) = loads(served.content)
    assert shape(market) == shape(listing["response"]["body"][0])


def test_day_candles_aggregate_the_minutes_from_00_utc(sandbox: Sandbox) -> None:
    with UpbitRestClient(sandbox.url) as client:
        days = client.get_day_candles("KRW-BTC", count=3)
    rows = file_rows()
    day = days[-1]
    assert day.open_time == datetime(2023, 3, 11, tzinfo=UTC)
    minutes = [v for k, v in rows.items() if k.startswith("2023-03-11")]
    assert day.open == Decimal(minutes[0][0]) and day.close == Decimal(minutes[-1][3])
    assert day.high == max(Decimal(m[1]) for m in minutes)
    assert day.low == min(Decimal(m[2]) for m in minutes)


def test_an_unknown_market_is_upbits_named_404(sandbox: Sandbox) -> None:
    with UpbitRestClient(sandbox.url) as client, pytest.raises(UpbitNotFoundError) as refused:
        client.get_minute_candles("KRW-DOGE")
    assert refused.value.upbit_message == "Code not found"


def test_the_clock_moves_the_market_forward(sandbox: Sandbox) -> None:
    sandbox.clock.set(NOW + timedelta(minutes=10), frozen=True)
    try:
        with UpbitRestClient(sandbox.url) as client:
            (last,) = client.get_minute_candles("KRW-BTC", count=1)
        assert last.open_time == datetime(2023, 3, 12, 6, 39, tzinfo=UTC)
    finally:
        sandbox.clock.set(NOW, frozen=True)


def test_a_burst_within_the_throttle_meets_no_429(sandbox: Sandbox) -> None:
    with UpbitRestClient(sandbox.url) as client:
        for _ in range(25):  # 2.5 s of the 10/s candle budget
            client.get_minute_candles("KRW-BTC", count=1)


@contextmanager
def gated_sandbox() -> Iterator[str]:
    """A sandbox of its own whose rate gate's second never ends (so a slow machine cannot
    spread a burst over two seconds' budgets); yield its URL."""
    market = SandboxMarket("KRW-BTC", read_tape(FIXTURE))
    clock = SandboxClock(NOW)
    clock.set(NOW, frozen=True)
    gate = RateLimiter(clock=lambda: 100.5)
    with served(create_sandbox_app({"KRW-BTC": market}, clock, gate)) as url:
        yield url


def test_a_429_storm_is_backed_off_then_reported_as_rate_limited() -> None:
    # Given a client whose own throttle is off (1000/s, deaf to Remaining-Req: a bad client)
    waits: list[float] = []
    with gated_sandbox() as url:
        client = UpbitRestClient(
            url, throttle=BlindThrottle({"candles": 1000}), read_retries=2, sleep=waits.append
        )
        with client, pytest.raises(UpbitRateLimitedError) as refused:
            for _ in range(40):
                client.get_minute_candles("KRW-BTC", count=1)
    # Then each 429 was retried after a growing pause, and finally reported
    assert refused.value.status == 429 and waits[:2] == [0.2, 0.4]


def test_carrying_on_after_429s_gets_blocked_with_418_and_the_client_stops() -> None:
    with gated_sandbox() as url:
        client = UpbitRestClient(url, throttle=BlindThrottle({"candles": 1000}), read_retries=0)
        with client, pytest.raises(UpbitBlockedError) as blocked:
            for _ in range(100):
                try:
                    client.get_minute_candles("KRW-BTC", count=1)
                except UpbitRateLimitedError:
                    continue  # a bad client carries on
    assert blocked.value.status == 418
