"""The Upbit client against the sandbox's exchange endpoints: orders, fills, balances, errors.

Each test gets a fresh sandbox account on the fixture's real candles, its clock frozen at
06:30:20 UTC on 2023-03-12; fills follow strategies.md's paper model, figures from the file.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import jwt
import pytest
from pydantic import SecretStr

from adapters.market_data.candles_csv import read_tape
from adapters.sandbox_exchange.app import SANDBOX_KEYS, create_sandbox_app
from adapters.sandbox_exchange.clock import SandboxClock
from adapters.sandbox_exchange.market_data import SandboxMarket
from adapters.sandbox_exchange.paper_exchange import PaperExchange
from adapters.upbit.auth import UpbitCredentials
from adapters.upbit.errors import (
    UpbitAuthError,
    UpbitNotFoundError,
    UpbitOrderRejectedError,
    UpbitPermanentError,
)
from adapters.upbit.parsing import loads
from adapters.upbit.rest import UpbitRestClient
from domain.fills.paper_fill_model import FillModel
from domain.money import floor8
from tests.integration.sandbox.conftest import FIXTURE, NOW, file_rows, served
from tests.unit.adapters.upbit.samples import recorded_body, shape

KEY = UpbitCredentials("sandbox-access-key", SecretStr(SANDBOX_KEYS["sandbox-access-key"]))
FEE = Decimal("0.0005")
TAPE = read_tape(FIXTURE)


@dataclass
class Venue:
    url: str
    clock: SandboxClock
    exchange: PaperExchange
    client: UpbitRestClient

    def at(self, minutes: float) -> None:
        """Move the frozen clock to NOW + `minutes`."""
        self.clock.set(NOW + timedelta(minutes=minutes), frozen=True)


@contextmanager
def venue(
    *, krw: str = "10000000", btc: str = "0", participation: str | None = None
) -> Iterator[Venue]:
    market = SandboxMarket("KRW-BTC", TAPE)
    clock = SandboxClock(NOW)
    clock.set(NOW, frozen=True)
    model = FillModel(max_participation=None if participation is None else Decimal(participation))
    exchange = PaperExchange({"KRW-BTC": market}, krw=Decimal(krw), btc=Decimal(btc), model=model)
    app = create_sandbox_app({"KRW-BTC": market}, clock, exchange=exchange)
    with served(app) as url, UpbitRestClient(url, credentials=KEY) as client:
        yield Venue(url, clock, exchange, client)


def raw(v: Venue, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """Send a signed request by hand (to compare bodies with the recorded ones)."""
    params = kwargs.get("params") or list((kwargs.get("json") or {}).items())
    headers = {"Authorization": KEY.authorization(params or None)}
    return httpx.request(method, f"{v.url}{path}", headers=headers, **kwargs)


def minute(at: str) -> list[Decimal]:
    """Return open, high, low, close, volume of the fixture's minute `at` (HH:MM, 2023-03-12)."""
    row = file_rows()[datetime.fromisoformat(f"2023-03-12T{at}:00+00:00")]
    return [Decimal(x) for x in row[:5]]


LIMIT_BID = {"market": "KRW-BTC", "side": "bid", "volume": "0.0005", "price": "10000000"}


def test_a_limit_bid_below_the_market_rests_with_upbits_recorded_figures_and_shape() -> None:
    with venue() as v:
        placed = raw(v, "POST", "/v1/orders", json={**LIMIT_BID, "ord_type": "limit"})
        assert placed.status_code == 201
        body = loads(placed.content)
        expected = recorded_body("orders_post.json")  # the same order, recorded on Upbit
        assert shape(body) == shape(expected)
        same = ("price", "state", "volume", "remaining_volume", "reserved_fee", "locked")
        assert {k: body[k] for k in same} == {k: expected[k] for k in same}
        assert body["created_at"] == "2023-03-12T15:30:20+09:00"
        (krw,) = v.client.get_accounts()
        assert (krw.balance, krw.locked) == (Decimal("9994997.5"), Decimal("5002.5"))


def test_an_order_is_found_by_its_identifier_with_the_recorded_get_shape() -> None:
    with venue() as v:
        placed = v.client.place_order(
            [*LIMIT_BID.items(), ("ord_type", "limit"), ("identifier", "ours-1")]
        )
        found = v.client.get_order(identifier="ours-1")
        assert (found.uuid, found.identifier, found.state) == (placed.uuid, "ours-1", "wait")
        body = loads(raw(v, "GET", "/v1/order", params=[("uuid", placed.uuid)]).content)
        expected = recorded_body("order_get.json")
        assert shape({k: b for k, b in body.items() if k != "identifier"}) == shape(expected)


def test_a_cancel_answers_the_order_still_waiting_then_releases_its_funds() -> None:
    with venue() as v:
        placed = v.client.place_order([*LIMIT_BID.items(), ("ord_type", "limit")])
        answered = raw(v, "DELETE", "/v1/order", params=[("uuid", placed.uuid)])
        assert shape(loads(answered.content)) == shape(recorded_body("order_delete.json"))
        assert loads(answered.content)["state"] == "wait"  # as Upbit answers a cancel
        assert v.client.get_order(uuid=placed.uuid).state == "cancel"
        (krw,) = v.client.get_accounts()
        assert (krw.balance, krw.locked) == (Decimal("10000000"), Decimal("0"))
        with pytest.raises(UpbitNotFoundError) as refused:
            v.client.cancel_order(uuid=placed.uuid)
        assert refused.value.name == "order_not_found"


def test_a_market_bid_fills_at_the_open_of_its_minute_and_ends_cancel_with_the_dust() -> None:
    with venue() as v:
        placed = v.client.place_order(
            [("market", "KRW-BTC"), ("side", "bid"), ("price", "10000"), ("ord_type", "price")]
        )
        assert v.client.get_order(uuid=placed.uuid).executed_volume == 0  # 06:30 still forming
        v.at(1)  # 06:31:20: the 06:30 candle has closed
        order = v.client.get_order(uuid=placed.uuid)
        open_ = minute("06:30")[0]
        qty = floor8(Decimal(10000) / open_)
        assert (order.state, order.executed_volume) == ("cancel", qty)
        assert order.paid_fee == qty * open_ * FEE
        (trade,) = order.trades
        assert (trade.price, trade.volume, trade.funds) == (open_, qty, qty * open_)
        krw, btc = v.client.get_accounts()
        assert krw.balance == Decimal(10000000) - qty * open_ - qty * open_ * FEE
        assert (btc.currency, btc.balance, btc.locked) == ("BTC", qty, 0)
        body = loads(raw(v, "GET", "/v1/order", params=[("uuid", placed.uuid)]).content)
        assert shape(body) == shape(recorded_body("order_get.json", 1))  # the recorded market bid


def test_a_market_ask_sells_at_the_next_open_and_ends_done() -> None:
    with venue(btc="0.01") as v:
        placed = v.client.place_order(
            [("market", "KRW-BTC"), ("side", "ask"), ("volume", "0.01"), ("ord_type", "market")]
        )
        v.at(2)
        order = v.client.get_order(uuid=placed.uuid)
        price = minute("06:30")[0]
        assert (order.state, order.executed_volume, order.locked) == ("done", Decimal("0.01"), 0)
        (krw,) = v.client.get_accounts()
        assert krw.balance == Decimal(10000000) + Decimal("0.01") * price * (1 - FEE)
        body = loads(raw(v, "GET", "/v1/order", params=[("uuid", placed.uuid)]).content)
        assert shape(body) == shape(recorded_body("order_get.json", 2))  # the recorded market ask


def test_a_limit_ask_fills_partly_per_candle_under_the_participation_cap() -> None:
    with venue(btc="1", participation="0.01") as v:
        ask = [("market", "KRW-BTC"), ("side", "ask"), ("volume", "0.05"), ("price", "27450000")]
        placed = v.client.place_order([*ask, ("ord_type", "limit"), ("identifier", "grid-7")])
        v.at(1)
        first = v.client.get_order(identifier="grid-7")
        cap = floor8(Decimal("0.01") * minute("06:30")[4])
        assert (first.state, first.executed_volume) == ("wait", cap)  # PARTIAL: still `wait`
        assert first.trades[0].price == max(Decimal(27450000), minute("06:30")[0])
        (listed,) = v.client.get_open_orders("KRW-BTC")
        assert listed.executed_funds == first.trades[0].funds
        v.at(10)
        done = v.client.get_order(uuid=placed.uuid)
        caps = [floor8(Decimal("0.01") * minute(f"06:3{m}")[4]) for m in range(10)]
        assert done.state == "done" and done.executed_volume == Decimal("0.05")
        assert [t.volume for t in done.trades] == _take(caps, Decimal("0.05"))
        assert v.client.get_open_orders("KRW-BTC") == []
        (closed,) = v.client.get_closed_orders("KRW-BTC")
        assert closed.uuid == placed.uuid and closed.trades_count == len(done.trades)


def _take(caps: list[Decimal], total: Decimal) -> list[Decimal]:
    taken: list[Decimal] = []
    for cap in caps:
        part = min(cap, total - sum(taken, Decimal(0)))
        if part > 0:
            taken.append(part)
    return taken


def test_the_order_lists_have_the_recorded_keys_and_page_newest_first() -> None:
    with venue() as v:
        for price in ("10000000", "10100000", "10200000"):
            v.client.place_order([*{**LIMIT_BID, "price": price}.items(), ("ord_type", "limit")])
        newest_first = v.client.get_open_orders("KRW-BTC", limit=2)
        assert [o.price for o in newest_first] == [Decimal("10200000"), Decimal("10100000")]
        v.client.cancel_order(uuid=newest_first[0].uuid)
        body = loads(raw(v, "GET", "/v1/orders/closed", params=[("market", "KRW-BTC")]).content)
        assert shape(body) == shape(recorded_body("orders_closed_get.json")[:1])


def test_the_chance_and_accounts_bodies_have_the_recorded_keys() -> None:
    with venue() as v:
        chance = loads(raw(v, "GET", "/v1/orders/chance", params=[("market", "KRW-BTC")]).content)
        assert shape(chance) == shape(recorded_body("orders_chance.json"))
        accounts = loads(raw(v, "GET", "/v1/accounts").content)
        assert shape(accounts) == shape(recorded_body("accounts.json"))
        parsed = v.client.get_chance("KRW-BTC")
        assert (parsed.bid_fee, parsed.min_total) == (FEE, Decimal(5000))


@pytest.mark.parametrize(
    ("body", "name"),
    [
        ({**LIMIT_BID, "ord_type": "limit", "volume": "1"}, "insufficient_funds_bid"),
        ({**LIMIT_BID, "ord_type": "limit", "volume": "0.0001"}, "under_min_total_bid"),
        ({**LIMIT_BID, "ord_type": "limit", "price": "10000500"}, "invalid_price_bid"),
        ({**LIMIT_BID, "ord_type": "limit", "volume": "0.000500001"}, "invalid_volume_bid"),
        ({"market": "KRW-BTC", "side": "ask", "volume": "0.01", "ord_type": "market"}, None),
        (
            {
                "market": "KRW-BTC",
                "side": "bid",
                "price": "1e4",
                "volume": "1",
                "ord_type": "price",
            },
            "create_bid_error",
        ),
        (
            {"market": "KRW-BTC", "side": "ask", "price": "1", "volume": "1", "ord_type": "market"},
            "create_ask_error",
        ),
    ],
    ids=["funds", "min-total", "tick", "volume-decimals", "no-coins", "bid-volume", "ask-price"],
)
def test_a_refused_order_names_upbits_rule_and_changes_nothing(
    body: dict[str, str], name: str | None
) -> None:
    with venue() as v:
        with pytest.raises(UpbitPermanentError) as refused:
            v.client.place_order(list(body.items()))
        assert refused.value.name == (name or "insufficient_funds_ask")
        assert isinstance(refused.value, UpbitOrderRejectedError)
        assert v.exchange.orders == {}
        (krw,) = v.client.get_accounts()
        assert (krw.balance, krw.locked) == (Decimal(10000000), 0)


def test_an_identifier_is_burnt_even_by_a_refused_order() -> None:
    with venue() as v:
        order = {**LIMIT_BID, "ord_type": "limit", "identifier": "once"}
        with pytest.raises(UpbitOrderRejectedError):
            v.client.place_order(list({**order, "volume": "1"}.items()))  # too large: refused
        with pytest.raises(UpbitPermanentError) as again:
            v.client.place_order(list(order.items()))
        assert again.value.name == "validation_error" and "once" in str(again.value)


def test_tokens_are_verified_as_upbit_does() -> None:
    with venue() as v:
        forged = UpbitCredentials("sandbox-access-key", SecretStr("not-the-secret" * 5))
        stranger = UpbitCredentials("someone-else", SecretStr("x" * 64))
        for credentials, name in ((forged, "jwt_verification"), (stranger, "invalid_access_key")):
            client = UpbitRestClient(v.url, credentials=credentials)
            with client, pytest.raises(UpbitAuthError) as refused:
                client.get_accounts()
            assert refused.value.name == name
        signed_for_other_params = KEY.authorization([("market", "KRW-ETH")])
        tampered = httpx.get(
            f"{v.url}/v1/orders/chance",
            params={"market": "KRW-BTC"},
            headers={"Authorization": signed_for_other_params},
        )
        assert loads(tampered.content)["error"]["name"] == "invalid_query_payload"
        header = KEY.authorization()
        assert httpx.get(f"{v.url}/v1/accounts", headers={"Authorization": header}).is_success
        replayed = httpx.get(f"{v.url}/v1/accounts", headers={"Authorization": header})
        assert loads(replayed.content)["error"]["name"] == "nonce_used"
        unsigned = httpx.get(f"{v.url}/v1/accounts")
        assert unsigned.status_code == 401
        claims = jwt.decode(header.removeprefix("Bearer "), options={"verify_signature": False})
        assert "query_hash" not in claims  # no parameters, no hash (§2)


def test_fills_are_reproducible_ids_from_their_cause() -> None:
    results = []
    for _ in range(2):
        with venue() as v:
            placed = v.client.place_order(
                [
                    *{**LIMIT_BID, "price": "27490000"}.items(),
                    ("ord_type", "limit"),
                    ("identifier", "same-cause"),
                ]
            )
            v.at(3)
            order = v.client.get_order(uuid=placed.uuid)
            results.append(
                (order.uuid, [(t.trade_id, t.price, t.created_at) for t in order.trades])
            )
    assert results[0] == results[1] and results[0][1]
    assert results[0][1][0][2] == datetime(2023, 3, 12, 6, 31, tzinfo=UTC)  # 06:30 closed
