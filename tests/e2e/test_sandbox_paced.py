"""`ledger sandbox --paced` as a trading system drives it: held, released candle by candle."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from uuid import uuid4

from pydantic import SecretStr

from adapters.sandbox_exchange.app import SANDBOX_KEYS
from adapters.sandbox_exchange.control import SandboxClockStatus, SandboxControl
from adapters.upbit.auth import UpbitCredentials
from adapters.upbit.execution import UpbitExecutionGateway
from adapters.upbit.rest import UpbitRestClient
from api.cli.run_parts import checked_sandbox_candles
from api.cli.run_parts import sandbox_process as run_sandbox
from commands.ports import ExchangeOrderState, OrderTicket
from domain.orders.terms import OrderSide, OrderType
from tests.sandbox_process import sandbox_process

START = datetime(2023, 3, 12, 6, 30, tzinfo=UTC)
KEY = UpbitCredentials("sandbox-access-key", SecretStr(SANDBOX_KEYS["sandbox-access-key"]))


def held(control: SandboxControl) -> SandboxClockStatus:
    """Wait (at most 10 s) until the released clock holds at its `until`."""
    deadline = time.monotonic() + 10
    while (status := control.status()).now != status.until and time.monotonic() < deadline:
        time.sleep(0.02)
    return status


def test_a_paced_sandbox_holds_until_released_and_fills_an_order_at_the_next_candle() -> None:
    flags = ("--paced", "--speed", "600", "--start", START.isoformat())
    with (
        sandbox_process(*flags) as url,
        SandboxControl(url) as control,
        UpbitRestClient(url, credentials=KEY) as client,
    ):
        time.sleep(0.2)  # wall time passes; the paced clock does not
        status = control.status()
        assert (status.now, status.until, status.speed) == (START, START, 600.0)
        assert status.last_candle_at == datetime(2023, 3, 16, 23, 59, tzinfo=UTC)
        gateway = UpbitExecutionGateway(client, name="sandbox")
        ticket = OrderTicket(
            uuid4(), "KRW-BTC", OrderSide.BID, OrderType.MARKET, amount_krw=Decimal(10000)
        )
        assert gateway.submit(ticket).created_at == START
        control.release(START + timedelta(minutes=1))
        assert held(control).now == START + timedelta(minutes=1)
        filled = gateway.find(ticket.order_id)
        assert filled is not None and filled.state is ExchangeOrderState.CANCEL
        (trade,) = filled.trades
        assert trade.executed_at == START + timedelta(minutes=1)
        (candle,) = client.get_minute_candles("KRW-BTC", count=1)
        assert candle.open_time == START  # the last candle the clock has closed


def test_the_sandbox_a_run_starts_reads_a_usdt_file_as_krw_when_the_flag_says_so(
    tmp_path: Path,
) -> None:
    # Given a Binance USDT file, checked for `ledger run --exchange sandbox --allow-non-krw`
    path = tmp_path / "binance-BTCUSDT-1m.csv"
    rows = [f"2023-03-09T00:{m:02d}:00Z,21950.1,21960.0,21940.5,21955.2,7.9" for m in range(6)]
    path.write_text("\n".join(["ts_utc,open,high,low,close,volume", *rows]) + "\n", "utf-8")
    candles = checked_sandbox_candles(path, is_non_krw_allowed=True)
    # When the run starts its sandbox on it (which makes the same checks, so needs the flag too)
    with (
        run_sandbox(candles, 3000.0, Decimal(1000000)) as url,
        SandboxControl(url) as control,
    ):
        # Then the sandbox serves the file from its first minute
        assert control.status().first_candle_at == candles.first == datetime(2023, 3, 9, tzinfo=UTC)
