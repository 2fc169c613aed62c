"""Execution gateway benchmark (issue 7): `submit` latency against a local sandbox process.

`ledger sandbox --paced` runs as its own process (its clock held, so nothing fills and every
order rests); the gateway in this process submits limit bids and asks, market bids and market
asks in turn, open loop at 10 orders/s (under Upbit's 12/s order limit, so the throttle never
waits), each timed from the call to the returned `ExchangeOrder`. The issue's budget is
candle close -> order at the sandbox p99 <= 200 ms; this is the gateway's part of it.
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime
from decimal import Decimal
from uuid import uuid4

from pydantic import SecretStr

from adapters.sandbox_exchange.app import SANDBOX_KEYS
from adapters.sandbox_exchange.control import SandboxControl
from adapters.upbit.auth import UpbitCredentials
from adapters.upbit.execution import UpbitExecutionGateway
from adapters.upbit.rest import UpbitRestClient
from commands.ports import OrderTicket
from domain.orders.terms import OrderSide, OrderType
from tests.bench.ledger_core import Figure
from tests.sandbox_process import sandbox_process

KEY = UpbitCredentials("sandbox-access-key", SecretStr(SANDBOX_KEYS["sandbox-access-key"]))
START = datetime(2023, 3, 12, 6, 30, tzinfo=UTC)
WARM_UP = 10


def _ticket(n: int) -> OrderTicket:
    kind = n % 4
    if kind == 0:  # rests far below the market
        return OrderTicket(
            uuid4(), "KRW-BTC", OrderSide.BID, OrderType.LIMIT, Decimal(10000000), Decimal("0.0005")
        )
    if kind == 1:  # rests far above it
        return OrderTicket(
            uuid4(), "KRW-BTC", OrderSide.ASK, OrderType.LIMIT, Decimal(90000000), Decimal("0.001")
        )
    if kind == 2:
        return OrderTicket(
            uuid4(), "KRW-BTC", OrderSide.BID, OrderType.MARKET, amount_krw=Decimal(10000)
        )
    return OrderTicket(
        uuid4(), "KRW-BTC", OrderSide.ASK, OrderType.MARKET, volume_btc=Decimal("0.001")
    )


def bench_submit_latency(count: int = 600, per_s: float = 10.0) -> Figure:
    """Submit `count` orders at `per_s`, open loop; return the p99 latency of `submit`."""
    flags = ("--paced", "--start", START.isoformat(), "--krw", "1000000000", "--btc", "100")
    latencies: list[float] = []
    with (
        sandbox_process(*flags) as url,
        UpbitRestClient(url, credentials=KEY) as client,
        SandboxControl(url) as control,
    ):
        gateway = UpbitExecutionGateway(client, name="sandbox")
        for n in range(WARM_UP):  # connection and first-call costs, not measured
            gateway.submit(_ticket(n))
        time.sleep(1.0)  # a fresh second of the order group's budget
        begun = time.perf_counter()
        for n in range(count):
            due = begun + n / per_s
            time.sleep(max(0.0, due - time.perf_counter()))
            started = time.perf_counter()
            gateway.submit(_ticket(n))
            latencies.append(time.perf_counter() - started)
        posts = control.order_posts()
    ordered = sorted(latencies)
    p99 = ordered[int(len(ordered) * 0.99) - 1]
    return Figure(
        "gateway `submit` -> order at the sandbox (resting)",
        p99 * 1000,
        "ms (p99)",
        "<= 200 (the whole candle -> order budget)",
        p99 <= 0.2 and posts == count + WARM_UP,
        f"{count} orders (limit bid, limit ask, market bid, market ask in turn) at "
        f"{per_s:g}/s, open loop; p50 {statistics.median(latencies) * 1000:.1f} ms, "
        f"max {ordered[-1] * 1000:.1f} ms; {posts} order POSTs for {count + WARM_UP} orders; "
        "`ledger sandbox --paced` in its own process, loopback, JWT HS512 per request",
    )
