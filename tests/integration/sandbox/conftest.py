"""A sandbox exchange served by uvicorn on 127.0.0.1 for the tests of this folder."""

from __future__ import annotations

import gzip
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI

from adapters.market_data.candles_csv import read_tape
from adapters.sandbox_exchange.app import create_sandbox_app
from adapters.sandbox_exchange.clock import SandboxClock
from adapters.sandbox_exchange.market_data import SandboxMarket
from commands.trading import Trading

FIXTURE = (
    Path(__file__).resolve().parents[2]
    / "fixtures"
    / "candles"
    / "upbit-KRW-BTC-1m-2023-03-09_2023-03-16.csv.gz"
)
NOW = datetime(2023, 3, 12, 6, 30, 20, tzinfo=UTC)


@dataclass
class Sandbox:
    url: str
    clock: SandboxClock
    market: SandboxMarket


@contextmanager
def served(app: FastAPI) -> Iterator[str]:
    """Serve `app` with uvicorn on a free 127.0.0.1 port; yield its base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "the sandbox did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    market = SandboxMarket("KRW-BTC", read_tape(FIXTURE))
    clock = SandboxClock(NOW)
    clock.set(NOW, frozen=True)
    with served(create_sandbox_app({"KRW-BTC": market}, clock)) as url:
        yield Sandbox(url, clock, market)


@pytest.fixture
def trading(pg_schema) -> Iterator[Trading]:  # type: ignore[no-untyped-def]
    app = Trading(pg_schema.eventsourcing_env())
    yield app
    app.close()


def file_rows() -> dict[datetime, list[str]]:
    """The fixture file's rows by minute, as the text fields after the time."""
    with gzip.open(FIXTURE, "rt") as handle:
        lines = handle.read().splitlines()[1:]
    return {
        datetime.fromisoformat(line[:19]).replace(tzinfo=UTC): line.split(",")[1:] for line in lines
    }
