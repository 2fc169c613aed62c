"""CQRS benchmarks (issue 6): the relay, each projector, and projector lag under steady load.

- relay: events/s from the log into an empty JetStream stream (target >= 7,000);
- each projector: events/s from the stream into its read model, from zero (target >= 5,000);
- lag: with 1,000 events/s appended for 15 s, the time from commit to the timeline projector
  having applied it (target < 1 s).
"""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from adapters.nats.projector import NatsProjector
from adapters.nats.relay import LogRelay
from adapters.nats.stream import LogStream
from adapters.postgres.log_listener import LogListener
from adapters.postgres.migrator import Migrator
from adapters.postgres.projection_writer import LogReader, ProjectionWriter
from adapters.postgres.read_model_store import ReadModelStore
from commands.messages import AllocateCapital, IngestCandles
from commands.trading import Trading
from domain.candles.candle_hour import CandleRow
from projections.catalogue import PROJECTIONS, projection_named
from tests.bench.ledger_core import Figure
from tests.builders import BASE_TIME, accept_order, cause, place_limit_bid, record_fill

ORDERS_IN_BATCHES = 8000
ORDERS_FILLED = 600
CANDLE_HOURS = 400
"""Candle hours ingested (24,000 one-minute candles; two events per hour)."""


@dataclass(frozen=True)
class Stack:
    """Where the benchmark's servers are."""

    conninfo: str
    schema: str
    env: Mapping[str, str]
    nats_url: str


def fill_the_log(app: Trading) -> int:
    """Append about 20,000 events of several kinds; return how many the log holds."""
    app.allocate_capital(AllocateCapital("alpha", "100000000000000", cause()))
    for start in range(0, ORDERS_IN_BATCHES, 500):
        app.place_orders(
            [
                place_limit_bid(f"bulk-{n}", price_krw="1000000", volume_btc="0.01")
                for n in range(start, start + 500)
            ]
        )
    for n in range(ORDERS_FILLED):
        order = app.place_order(place_limit_bid(f"filled-{n}", price_krw="1000000"))
        app.accept_order(accept_order(order, exchange_order_id=f"x-{n}"))
        app.record_fill(record_fill(order, trade_id=f"t-{n}", price_krw="1000000", qty_btc="0.01"))
    hours = [BASE_TIME + timedelta(hours=h) for h in range(CANDLE_HOURS)]
    for start in range(0, CANDLE_HOURS, 50):
        app.ingest_candles(
            [
                IngestCandles("KRW-BTC", hour, _hour_of_candles(h), "bench", cause())
                for h, hour in enumerate(hours[start : start + 50], start=start)
            ]
        )
    return len(list(LogReader(app.recorder).items(0)))


def _hour_of_candles(h: int) -> tuple[CandleRow, ...]:
    rows = []
    for minute in range(60):
        low = 50_000_000 + 1000 * ((h * 60 + minute) % 97)
        prices = (str(low + 2000), str(low + 5000), str(low), str(low + 3000))
        rows.append(CandleRow.of(minute, (*prices, "0.5", "25000000")))
    return tuple(rows)


def bench_relay_and_projectors(stack: Stack) -> list[Figure]:
    """Relay the whole log into a fresh stream, then run each projector from zero."""
    app = Trading(dict(stack.env))
    try:
        Migrator(stack.conninfo, stack.schema).up()
        events = fill_the_log(app)
        last = app.recorder.max_notification_id() or 0
        stream = LogStream(f"bench{uuid.uuid4().hex[:8]}", duplicate_window_s=600)
        relay = LogRelay(app.recorder, stream, stack.nats_url)
        elapsed = _run_until(lambda: [relay], lambda: relay.stats.position >= last)
        figures = [
            Figure(
                "relay: log -> JetStream",
                events / elapsed,
                "events/s",
                ">= 7,000",
                events / elapsed >= 7000,
                f"{events:,} events (orders placed, accepted, filled; cash and positions; "
                f"{CANDLE_HOURS} hours of candles, 60 per event), "
                f"pages of 500, pipelined; {relay.stats.duplicates} duplicates",
            )
        ]
        store = ReadModelStore(stack.conninfo, stack.schema)
        for name in PROJECTIONS:
            writer = ProjectionWriter(
                store, projection_named(name), LogReader(app.recorder), app.mapper.to_domain_event
            )
            projector = NatsProjector(writer, stream, stack.nats_url)
            try:
                took = _run_until(
                    lambda p=projector: [p], lambda p=projector: p.stats.position >= last
                )
            finally:
                writer.close()
            rate = events / took
            figures.append(
                Figure(
                    f"projector `{name}`: JetStream -> read model",
                    rate,
                    "events/s",
                    ">= 5,000",
                    rate >= 5000,
                    f"{events:,} events from zero, batches of 500, one transaction each",
                )
            )
        return figures
    finally:
        app.close()


def bench_lag(stack: Stack, *, rate: int = 1000, seconds: float = 15.0) -> Figure:
    """Append `rate` events/s for `seconds` while relay (woken by NOTIFY) and the timeline
    projector follow; each commit's lag is the time until the projector has applied it.
    """
    app = Trading(dict(stack.env))
    writer_app = Trading(dict(stack.env))
    store = ReadModelStore(stack.conninfo, stack.schema)
    Migrator(stack.conninfo, stack.schema).up()
    stream = LogStream(f"lag{uuid.uuid4().hex[:8]}", duplicate_window_s=600)
    writer = ProjectionWriter(
        store, projection_named("timeline"), LogReader(app.recorder), app.mapper.to_domain_event
    )
    listener = LogListener(stack.conninfo, app.recorder.channel_name, poll_s=1.0)
    relay = LogRelay(app.recorder, stream, stack.nats_url, listener=listener)
    projector = NatsProjector(writer, stream, stack.nats_url)
    writer_app.allocate_capital(AllocateCapital("alpha", "100000000000000", cause()))
    commits: list[tuple[int, float]] = []
    lags: list[float] = []
    done = threading.Event()

    def append() -> None:
        per_batch = 50  # orders: 100 events
        interval = per_batch * 2 / rate
        start = time.monotonic()
        n = 0
        while time.monotonic() - start < seconds:
            writer_app.place_orders(
                [
                    place_limit_bid(f"lag-{n}-{k}", price_krw="1000000", volume_btc="0.01")
                    for k in range(per_batch)
                ]
            )
            commits.append((writer_app.recorder.max_notification_id() or 0, time.monotonic()))
            n += 1
            time.sleep(max(0.0, start + n * interval - time.monotonic()))
        done.set()

    async def scenario() -> None:
        stop = asyncio.Event()
        tasks = [asyncio.ensure_future(relay.run(stop)), asyncio.ensure_future(projector.run(stop))]
        await asyncio.sleep(1.0)
        thread = threading.Thread(target=append)
        thread.start()
        seen = 0
        while not (done.is_set() and seen == len(commits)):
            while seen < len(commits) and projector.stats.position >= commits[seen][0]:
                lags.append(time.monotonic() - commits[seen][1])
                seen += 1
            await asyncio.sleep(0.002)
        thread.join()
        stop.set()
        await asyncio.gather(*tasks)

    try:
        asyncio.run(scenario())
    finally:
        writer.close()
        app.close()
        writer_app.close()
    lags.sort()
    worst = lags[-1]
    p99 = lags[int(len(lags) * 0.99) - 1]
    return Figure(
        "projector lag at 1,000 events/s sustained",
        worst * 1000,
        "ms (worst)",
        "< 1,000",
        worst < 1.0,
        f"{len(lags)} commits of 100 events over {seconds:.0f} s; median "
        f"{statistics.median(lags) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms; relay + the timeline "
        "projector (a row per event)",
    )


def _run_until(make, condition) -> float:  # type: ignore[no-untyped-def]
    async def scenario() -> float:
        stop = asyncio.Event()
        started = time.perf_counter()
        tasks = [asyncio.ensure_future(runner.run(stop)) for runner in make()]
        while not condition():
            for task in tasks:
                if task.done():
                    task.result()
            await asyncio.sleep(0.002)
        elapsed = time.perf_counter() - started
        stop.set()
        await asyncio.gather(*tasks)
        return elapsed

    return asyncio.run(scenario())
