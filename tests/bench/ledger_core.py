"""Ledger-core benchmarks (issue 3) on the embedded PostgreSQL.

- place-order commands, one per transaction (target >= 300/s);
- events per second in batched saves (target >= 5,000/s);
- reloading an order with 1,000 events (target < 50 ms, snapshots every 100 events).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from commands.messages import AllocateCapital, PlaceOrder
from commands.trading import Trading
from domain.events import Cause
from domain.market import parse_market
from domain.orders.order import Order
from domain.orders.terms import OrderSide, OrderType, order_terms

BASE = datetime(2026, 1, 5, tzinfo=UTC)


@dataclass(frozen=True)
class Figure:
    """One measured figure against its target."""

    name: str
    value: float
    unit: str
    target: str
    is_met: bool
    detail: str = ""


def bench_cause(n: int) -> Cause:
    """Return the cause of the benchmark's `n`th command (`n` ms after its base time)."""
    return Cause(BASE + timedelta(milliseconds=n), "bench", f"bench-{n}", "bench")


def limit_bid(client_id: str, cause: Cause) -> PlaceOrder:
    """Return strategy `bench`'s limit bid of 0.001 BTC at 50,000,000 KRW."""
    return PlaceOrder(
        client_id,
        "bench",
        "KRW-BTC",
        "bid",
        "limit",
        cause,
        price_krw="50000000",
        volume_btc="0.001",
    )


def bench_place_orders(env: Mapping[str, str], count: int) -> Figure:
    """Place `count` limit bids, each its own command and transaction."""
    app = Trading(env)
    try:
        app.allocate_capital(AllocateCapital("bench", "1000000000000", bench_cause(0)))
        for n in range(50):  # warm the pool and the aggregate cache
            app.place_order(limit_bid(f"warm-{n}", bench_cause(n)))
        latencies = []
        started = time.perf_counter()
        for n in range(count):
            t0 = time.perf_counter()
            app.place_order(limit_bid(f"single-{n}", bench_cause(n)))
            latencies.append(time.perf_counter() - t0)
        elapsed = time.perf_counter() - started
    finally:
        app.close()
    rate = count / elapsed
    p50 = statistics.median(latencies) * 1000
    p99 = sorted(latencies)[int(len(latencies) * 0.99)] * 1000
    return Figure(
        "place-order commands, one per transaction",
        rate,
        "commands/s",
        ">= 300",
        rate >= 300,
        f"{count} commands; latency p50 {p50:.2f} ms, p99 {p99:.2f} ms",
    )


def bench_batched_saves(env: Mapping[str, str], batches: int, orders_per_batch: int) -> Figure:
    """Place orders in batches: one transaction per batch, two events per order."""
    app = Trading(env)
    try:
        app.allocate_capital(AllocateCapital("bench", "1000000000000", bench_cause(0)))
        app.place_orders(
            [limit_bid(f"warm-batch-{n}", bench_cause(n)) for n in range(orders_per_batch)]
        )
        before = app.recorder.max_notification_id() or 0
        started = time.perf_counter()
        for b in range(batches):
            app.place_orders(
                [limit_bid(f"batch-{b}-{n}", bench_cause(n)) for n in range(orders_per_batch)]
            )
        elapsed = time.perf_counter() - started
        events = (app.recorder.max_notification_id() or 0) - before
    finally:
        app.close()
    rate = events / elapsed
    return Figure(
        "events in batched saves",
        rate,
        "events/s",
        ">= 5,000",
        rate >= 5000,
        f"{batches} saves of {orders_per_batch} orders ({events} events, through the "
        "place-orders command)",
    )


def bench_reload_order(env: Mapping[str, str], events: int, loads: int) -> Figure:
    """Reload one order with `events` events from a cold application (no cache)."""
    writer = Trading(env)
    try:
        terms = order_terms(
            parse_market("KRW-BTC"),
            OrderSide.BID,
            OrderType.LIMIT,
            at=BASE,
            price_krw="50000000",
            volume_btc="1",
        )
        order = Order.place(
            client_order_id="reload-1",
            strategy_id="bench",
            terms=terms,
            locked=(Decimal("50025000"), Decimal(0)),
            cause=bench_cause(0),
        )
        order.accept("upbit-1", bench_cause(1))
        n = 2
        while n < events:
            for _ in range(min(100, events - n)):
                order.record_fill(
                    trade_id=f"t-{n}",
                    price_krw="50000000",
                    qty_btc="0.0001",
                    fee_krw="2.5",
                    cause=bench_cause(n),
                )
                n += 1
            writer.save(order)
        writer.save(order)
        order_id = order.id
    finally:
        writer.close()
    reader = Trading({**env, "AGGREGATE_CACHE_MAXSIZE": ""})
    try:
        durations = []
        for _ in range(loads):
            t0 = time.perf_counter()
            loaded = reader.repository.get(order_id)
            durations.append(time.perf_counter() - t0)
        assert loaded.version == events
    finally:
        reader.close()
    median_ms = statistics.median(durations) * 1000
    worst_ms = max(durations) * 1000
    return Figure(
        f"reload an order with {events:,} events",
        median_ms,
        "ms (median)",
        "< 50",
        median_ms < 50,
        f"{loads} cold loads, snapshot every 100 events; worst {worst_ms:.1f} ms",
    )
