"""`ledger sandbox` and `ledger ingest` as a user runs them: a backfill over real HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import LEDGER, Cli

FIXTURE = (
    Path(__file__).resolve().parents[1]
    / "fixtures"
    / "candles"
    / "upbit-KRW-BTC-1m-2023-03-09_2023-03-16.csv.gz"
)


@pytest.fixture(scope="module")
def sandbox_url() -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [
            LEDGER,
            "sandbox",
            "--candles",
            str(FIXTURE),
            "--start",
            "2023-03-12T06:30:00Z",
            "--speed",
            "1",
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/sandbox/clock", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.2)
    httpx.post(f"{url}/sandbox/clock", json={"at": "2023-03-12T06:30:20Z", "frozen": True})
    yield url
    process.terminate()
    process.wait(timeout=10)


def test_ingest_backfills_the_sandbox_into_the_log_once(cli: Cli, sandbox_url: str) -> None:
    first = cli("ingest", "--exchange-url", sandbox_url, "--since", "2023-03-12T00:00Z")
    assert first.returncode == 0, first.stderr
    assert "390 recorded" in first.stdout.replace("\n", " ")  # 00:00 .. 06:29
    events = cli.event_count()
    again = cli("ingest", "--exchange-url", sandbox_url, "--since", "2023-03-12T00:00Z")
    assert "0 recorded" in again.stdout.replace("\n", " ")
    assert cli.event_count() == events


def test_ingest_of_an_unknown_market_is_the_exchanges_named_refusal(
    cli: Cli, sandbox_url: str
) -> None:
    result = cli("ingest", "--exchange-url", sandbox_url, "--market", "KRW-DOGE")
    assert result.returncode == 2
    assert "Upbit answered 404: Code not found" in result.stderr


def test_ingest_from_an_unreachable_exchange_exits_3(cli: Cli) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = cli(
        "ingest",
        "--exchange-url",
        f"http://127.0.0.1:{port}",
        "--since",
        "2023-03-12T00:00Z",
        timeout=180,
    )
    assert result.returncode == 3, result.stderr
