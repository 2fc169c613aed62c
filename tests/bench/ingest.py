"""Ingest benchmarks (issue 5) against the sandbox on loopback and the embedded PostgreSQL.

- backfill: candles/s through the REST rate limit (10 requests/s x 200 candles), target
  >= 90 % of 2,000 candles/s with not a single 429;
- live: a closed minute is committed to the log <= 1 s after it closes on the sandbox.
"""

from __future__ import annotations

import asyncio
import socket
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import uvicorn

from adapters.market_data.candles_csv import read_tape
from adapters.sandbox_exchange.app import create_sandbox_app
from adapters.sandbox_exchange.clock import SandboxClock
from adapters.sandbox_exchange.market_data import SandboxMarket
from adapters.sandbox_exchange.rate_limits import RateLimiter
from adapters.upbit.candle_source import UpbitCandleSource
from adapters.upbit.live_ingest import LiveCandleIngest
from adapters.upbit.rest import UpbitRestClient
from commands.ingest import backfill
from commands.trading import Trading
from domain.candles.candle import Candle
from domain.events import Cause
from tests.bench.ledger_core import Figure

FIXTURE = (
    Path(__file__).resolve().parents[1]
    / "fixtures"
    / "candles"
    / "upbit-KRW-BTC-1m-2023-03-09_2023-03-16.csv.gz"
)


@contextmanager
def sandbox(clock: SandboxClock, limiter: RateLimiter) -> Iterator[str]:
    app = create_sandbox_app(
        {"KRW-BTC": SandboxMarket("KRW-BTC", read_tape(FIXTURE))}, clock, limiter
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _cause() -> Cause:
    return Cause(datetime(2023, 3, 20, tzinfo=UTC), "bench", "bench", "bench")


def bench_backfill(env: dict[str, str]) -> Figure:
    """Backfill the fixture's 8 days (11,518 candles) from the sandbox into the log."""
    end = datetime(2023, 3, 17, tzinfo=UTC)
    clock = SandboxClock(end)
    clock.set(end, frozen=True)
    limiter = RateLimiter()
    trading = Trading(env)
    try:
        with sandbox(clock, limiter) as host, UpbitRestClient(f"http://{host}") as client:
            started = time.perf_counter()
            report = backfill(
                trading,
                UpbitCandleSource(client),
                "KRW-BTC",
                since=datetime(2023, 3, 9, tzinfo=UTC),
                until=end,
                cause=_cause,
                source_name="bench",
            )
            elapsed = time.perf_counter() - started
    finally:
        trading.close()
    rate = report.candles / elapsed
    share = rate / 2000
    return Figure(
        "REST backfill from the sandbox",
        rate,
        "candles/s",
        ">= 1,800 (90 % of 10 req/s x 200), no 429",
        share >= 0.9 and limiter.rejected == 0,
        f"{report.candles:,} candles in {report.pages} pages, {elapsed:.1f} s, "
        f"{limiter.rejected} requests answered 429/418",
    )


def bench_live_latency(env: dict[str, str], candles: int = 30, speed: float = 60.0) -> Figure:
    """Follow the feed at `speed`; measure wall time from each minute's close to its commit."""
    start = datetime(2023, 3, 12, 6, 0, tzinfo=UTC)
    clock = SandboxClock(start, speed=speed)
    clock.set(start, frozen=True)
    latencies: list[float] = []
    trading = Trading(env)
    try:
        with sandbox(clock, RateLimiter()) as host, UpbitRestClient(f"http://{host}") as client:
            anchor: list[tuple[float, datetime]] = []

            def committed(rows: list[Candle]) -> None:
                if not anchor:
                    return  # the start-up backfill, before the market moves
                now_wall = time.monotonic()
                wall0, market0 = anchor[0]
                for candle in rows:
                    if candle.open_time < market0:
                        continue  # recorded by the start-up backfill
                    closed_wall = (
                        wall0 + (candle.close_time - market0) / timedelta(seconds=1) / speed
                    )
                    latencies.append(now_wall - closed_wall)

            ingest = LiveCandleIngest(
                trading,
                UpbitCandleSource(client),
                f"ws://{host}/websocket/v1",
                "KRW-BTC",
                cause=_cause,
                source_name="bench",
                now=clock.now,
                on_record=committed,
            )

            async def run() -> None:
                stop = asyncio.Event()
                task = asyncio.ensure_future(ingest.run(start - timedelta(minutes=5), stop))
                await asyncio.sleep(1.0)
                anchor.append((time.monotonic(), start))
                clock.set(start, frozen=False)
                deadline = time.monotonic() + 60 + candles * 2 / (speed / 60)
                while len(latencies) < candles and not task.done():
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"only {len(latencies)} minutes were committed")
                    await asyncio.sleep(0.05)
                stop.set()
                await asyncio.wait_for(task, timeout=30)

            asyncio.run(run())
    finally:
        trading.close()
    ordered = sorted(latencies)
    p99 = ordered[int(len(ordered) * 0.99) - 1]
    worst = ordered[-1]
    return Figure(
        "live: minute close on the sandbox -> committed in the log",
        worst * 1000,
        "ms (worst)",
        "<= 1,000",
        worst <= 1.0,
        f"{len(latencies)} minutes at {speed:g}x; median "
        f"{statistics.median(latencies) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms",
    )
