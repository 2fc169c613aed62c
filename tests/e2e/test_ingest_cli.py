"""`ledger sandbox` and `ledger ingest` as a user runs them: a backfill over real HTTP.

The sandbox and the first backfill are real `ledger` processes; the other commands run
`ledger` in this process (`Cli.inline`, the same entry point)."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from adapters.sandbox_exchange.app import SANDBOX_KEYS
from adapters.upbit.auth import UpbitCredentials
from adapters.upbit.errors import UpbitAuthError
from adapters.upbit.rest import UpbitRestClient
from tests.e2e.conftest import LEDGER, Cli

FIXTURE = (
    Path(__file__).resolve().parents[1]
    / "fixtures"
    / "candles"
    / "upbit-KRW-BTC-1m-2023-03-09_2023-03-16.csv.gz"
)

SECRET = "e2e-secret-" + "s" * 60


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
            "--btc",
            "0.5",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "LEDGER_SANDBOX_SECRET_KEY": SECRET},
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
    again = cli.inline()("ingest", "--exchange-url", sandbox_url, "--since", "2023-03-12T00:00Z")
    assert "0 recorded" in again.stdout.replace("\n", " ")
    assert cli.event_count() == events


def test_ingest_of_an_unknown_market_is_the_exchanges_named_refusal(
    cli: Cli, sandbox_url: str
) -> None:
    result = cli.inline()("ingest", "--exchange-url", sandbox_url, "--market", "KRW-DOGE")
    assert result.returncode == 2
    assert "Upbit answered 404: Code not found" in result.stderr


def test_ingest_from_an_unreachable_exchange_exits_3(cli: Cli) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = cli.inline()(
        "ingest", "--exchange-url", f"http://127.0.0.1:{port}", "--since", "2023-03-12T00:00Z"
    )
    assert result.returncode == 3, result.stderr


def test_the_sandbox_trades_for_the_key_from_the_environment_only(sandbox_url: str) -> None:
    key = UpbitCredentials("sandbox-access-key", SecretStr(SECRET))
    with UpbitRestClient(sandbox_url, credentials=key) as client:
        krw, btc = client.get_accounts()
        assert (krw.balance, btc.balance) == (Decimal(10_000_000), Decimal("0.5"))
        order = [("market", "KRW-BTC"), ("side", "ask"), ("volume", "0.1")]
        placed = client.place_order([*order, ("ord_type", "market"), ("identifier", "e2e-1")])
        assert client.get_order(identifier="e2e-1").uuid == placed.uuid
    builtin = UpbitCredentials("sandbox-access-key", SecretStr(SANDBOX_KEYS["sandbox-access-key"]))
    with UpbitRestClient(sandbox_url, credentials=builtin) as client, pytest.raises(UpbitAuthError):
        client.get_accounts()


@pytest.mark.parametrize(
    ("flag", "value"), [("--krw", "lots"), ("--btc", "-1"), ("--participation", "1.5")]
)
def test_the_sandbox_refuses_a_bad_account_setting_naming_it(
    cli: Cli, flag: str, value: str
) -> None:
    result = cli.inline()("sandbox", "--candles", str(FIXTURE), flag, value, "--port", "1")
    assert result.returncode == 2
    assert flag in result.stderr and value in result.stderr
