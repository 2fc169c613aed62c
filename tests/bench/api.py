"""HTTP API benchmarks (issue 6): latency at 100 requests/s on loopback.

uvicorn serves the real app (embedded PostgreSQL, read-model pool) in this process; a client
process (`tests.bench.api_client`) sends requests at a steady 100/s (open loop: each at its
planned time, not after the previous answer) and records each answer's latency. Targets:
POST /orders p99 <= 25 ms, a query (GET /orders, a page of 50) p99 <= 10 ms.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn

from adapters.postgres.migrator import Migrator
from adapters.postgres.read_model_queries import PostgresReadModelQueries
from api.bootstrap import System
from api.cursor_key import cursor_key
from api.http.app import create_app
from api.settings import load_settings
from commands.trading import Trading
from tests.bench.cqrs import Stack
from tests.bench.ledger_core import Figure

TOKEN = "bench-token-0123456789abcdef"


@contextmanager
def served(stack: Stack) -> Iterator[tuple[str, System]]:
    trading = Trading(dict(stack.env))
    Migrator(stack.conninfo, stack.schema).up()
    settings = load_settings(overrides={"api": {"token": TOKEN}})
    queries = PostgresReadModelQueries(
        stack.conninfo, stack.schema, cursor_key=cursor_key(settings)
    )
    system = System(settings, trading, queries)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(system), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", system
    finally:
        server.should_exit = True
        thread.join(10)
        system.close()


def bench_api(stack: Stack) -> list[Figure]:
    """POST /orders, then GET /orders, at 100 requests/s each from a client process."""
    with served(stack) as (url, system):
        _fund(url)
        posts = _client_run(url, "place")
        _project_orders(system)
        gets = _client_run(url, "query")
    return [
        _figure("POST /orders (place an order) at 100 requests/s", posts, 25.0),
        _figure("GET /orders (a page of 50) at 100 requests/s", gets, 10.0),
    ]


def bench_concurrent_orders(stack: Stack) -> Figure:
    """200 valid POST /orders on one strategy from 50 clients at once: none may give up."""
    with served(stack) as (url, _):
        _fund(url)
        answers = [(int(status), float(ms)) for status, ms in _client_output(url, "burst")]
    statuses = sorted({status for status, _ in answers})
    gave_up = sum(1 for status, _ in answers if status == 409)
    ordered = sorted(ms for _, ms in answers)
    p99 = ordered[int(len(ordered) * 0.99) - 1]
    return Figure(
        "200 concurrent POST /orders from 50 clients on one strategy: given up on conflicts",
        gave_up,
        "orders (409)",
        "0",
        gave_up == 0 and statuses == [201],
        f"answers {statuses}; latency p50 {ordered[len(ordered) // 2]:.0f} ms, p99 {p99:.0f} ms, "
        f"max {ordered[-1]:.0f} ms; uvicorn in the benchmark, 50 httpx clients in one process",
    )


def _fund(url: str) -> None:
    with httpx.Client(base_url=url, timeout=5) as client:
        client.post(
            "/capital/allocations",
            json={"strategy_id": "bench", "amount_krw": "100000000000"},
            headers={"Authorization": f"Bearer {TOKEN}"},
        ).raise_for_status()


def _client_run(url: str, mode: str) -> list[float]:
    return [float(x) for x in _client_output(url, mode)]


def _client_output(url: str, mode: str) -> Any:
    """Run the load client in its own process in `mode`; return what it printed (JSON)."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.bench.api_client", url, mode, TOKEN],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return json.loads(done.stdout)


def _project_orders(system: System) -> None:
    from adapters.postgres.projection_writer import LogReader, ProjectionWriter
    from adapters.postgres.read_model_store import ReadModelStore
    from projections.catalogue import projection_named

    store = ReadModelStore(*_store_args(system))
    trading = system.trading
    writer = ProjectionWriter(
        store,
        projection_named("orders"),
        LogReader(trading.recorder),
        trading.mapper.to_domain_event,
    )
    try:
        writer.catch_up()
    finally:
        writer.close()


def _store_args(system: System) -> tuple[str, str]:
    queries = system.queries
    assert isinstance(queries, PostgresReadModelQueries)
    return queries.conninfo, queries.schema


def _figure(name: str, latencies: list[float], target_ms: float) -> Figure:
    ordered = sorted(latencies)
    p99 = ordered[int(len(ordered) * 0.99) - 1]
    p50 = ordered[len(ordered) // 2]
    return Figure(
        name,
        p99,
        "ms (p99)",
        f"<= {target_ms:g}",
        p99 <= target_ms,
        f"{len(ordered)} requests over 10 s, open loop; p50 {p50:.1f} ms, "
        f"max {ordered[-1]:.1f} ms; uvicorn in the benchmark, an httpx client process, loopback",
    )
