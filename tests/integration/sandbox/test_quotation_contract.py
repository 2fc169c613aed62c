"""Tickers, trades and order books from the sandbox: Upbit's keys and types, the file's figures.

The sandbox clock is frozen at 06:30:20 UTC on 2023-03-12: the newest closed minute is 06:29.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import websockets

from adapters.upbit.parsing import loads
from adapters.upbit.rest import UpbitRestClient
from tests.integration.sandbox.conftest import NOW, Sandbox, file_rows
from tests.unit.adapters.upbit.samples import SAMPLES, recorded_body, shape

ROWS = file_rows()
DAY = datetime(2023, 3, 12, tzinfo=UTC)


def row(at: datetime) -> list[Decimal]:
    return [Decimal(x) for x in ROWS[at][:5]]


def test_the_ticker_has_the_recorded_keys_and_the_files_day_so_far(sandbox: Sandbox) -> None:
    served = loads(httpx.get(f"{sandbox.url}/v1/ticker", params={"markets": "KRW-BTC"}).content)
    assert shape(served) == shape(recorded_body("ticker.json"))
    with UpbitRestClient(sandbox.url) as client:
        (ticker,) = client.get_tickers(["KRW-BTC"])
    today = [row(m) for m in ROWS if DAY <= m < NOW.replace(second=0)]
    assert ticker.trade_price == row(datetime(2023, 3, 12, 6, 29, tzinfo=UTC))[3]
    assert ticker.opening_price == today[0][0]
    assert (ticker.high_price, ticker.low_price) == (
        max(r[1] for r in today),
        min(r[2] for r in today),
    )
    assert ticker.prev_closing_price == row(DAY - timedelta(minutes=1))[3]
    expected = "RISE" if ticker.trade_price > ticker.prev_closing_price else "FALL"
    assert ticker.change == expected
    closed_by_now = NOW.replace(second=0)
    last_day = [row(m) for m in ROWS if closed_by_now - timedelta(days=1) <= m < closed_by_now]
    assert ticker.acc_trade_volume_24h == sum((r[4] for r in last_day), Decimal(0))


def test_trades_are_the_closed_minutes_newest_first_and_page_back_by_cursor(
    sandbox: Sandbox,
) -> None:
    served = httpx.get(f"{sandbox.url}/v1/trades/ticks", params={"market": "KRW-BTC"})
    assert shape(loads(served.content)) == shape(recorded_body("trades_ticks.json"))
    assert served.headers["Remaining-Req"].startswith("group=crix-trades")
    with UpbitRestClient(sandbox.url) as client:
        newest = client.get_trades("KRW-BTC", count=5)
        older = client.get_trades("KRW-BTC", count=5, cursor=newest[-1].sequential_id)
    minutes = [NOW.replace(second=0) - timedelta(minutes=k) for k in range(1, 11)]
    assert [t.price for t in newest + older] == [row(m)[3] for m in minutes]
    assert [t.volume for t in newest + older] == [row(m)[4] for m in minutes]
    assert newest[0].traded_at == minutes[0] + timedelta(seconds=59, milliseconds=999)


def test_the_order_book_has_the_recorded_shape_around_the_last_price(sandbox: Sandbox) -> None:
    served = httpx.get(f"{sandbox.url}/v1/orderbook", params={"markets": "KRW-BTC"})
    assert shape(loads(served.content)) == shape(recorded_body("orderbook.json"))
    with UpbitRestClient(sandbox.url) as client:
        (book,) = client.get_orderbooks(["KRW-BTC"])
    last = row(datetime(2023, 3, 12, 6, 29, tzinfo=UTC))[3]
    assert len(book.asks) == len(book.bids) == 30
    assert book.bids[0][0] == last and book.asks[0][0] == last + 1000  # one tick (2023 table)
    assert [p for p, _ in book.asks] == sorted(p for p, _ in book.asks)
    assert [p for p, _ in book.bids] == sorted((p for p, _ in book.bids), reverse=True)


def test_the_websocket_streams_ticker_and_trade_messages_with_upbits_keys(
    sandbox: Sandbox,
) -> None:
    host = sandbox.url.removeprefix("http://")

    async def receive() -> list[dict[str, Any]]:
        async with websockets.connect(f"ws://{host}/websocket/v1") as socket:
            subscription = [
                {"ticket": "contract"},
                {"type": "ticker", "codes": ["KRW-BTC"]},
                {"type": "trade", "codes": ["KRW-BTC"]},
            ]
            await socket.send(json.dumps(subscription))
            await asyncio.sleep(0.2)
            sandbox.clock.set(NOW + timedelta(minutes=1), frozen=True)  # 06:30 closes
            return [json.loads(await asyncio.wait_for(socket.recv(), 5)) for _ in range(2)]

    try:
        messages = asyncio.run(receive())
    finally:
        sandbox.clock.set(NOW, frozen=True)
    by_type = {m["type"]: m for m in messages}
    for kind in ("ticker", "trade"):
        expected = loads((SAMPLES / f"ws_{kind}.json").read_text())["received"]
        assert set(by_type[kind]) == set(expected), kind
    closed = row(datetime(2023, 3, 12, 6, 30, tzinfo=UTC))
    assert Decimal(str(by_type["trade"]["trade_price"])) == closed[3]
    assert Decimal(str(by_type["ticker"]["trade_price"])) == closed[3]
