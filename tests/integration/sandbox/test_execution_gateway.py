"""The Upbit execution gateway against the sandbox over HTTP: the port's contract, then Upbit's.

Each test serves a fresh sandbox (uvicorn on loopback) on the fixture's candles, its clock
frozen at NOW, moved and spoilt through its control endpoints; the sandbox's own order book is
read directly to count what reached it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, replace
from datetime import timedelta
from decimal import Decimal
from uuid import uuid4

import pytest
from pydantic import SecretStr

from adapters.sandbox_exchange.app import SANDBOX_KEYS, create_sandbox_app
from adapters.sandbox_exchange.clock import SandboxClock
from adapters.sandbox_exchange.control import SandboxControl
from adapters.sandbox_exchange.market_data import SandboxMarket
from adapters.sandbox_exchange.paper_exchange import PaperExchange
from adapters.upbit.auth import UpbitCredentials
from adapters.upbit.execution import UpbitExecutionGateway
from adapters.upbit.order_translation import MalformedExchangeAnswerError, PaidFeeMismatchError
from adapters.upbit.rest import UpbitRestClient
from commands.errors import ExchangeRefusedOrderError, ExchangeUnavailableError
from domain.fills.paper_fill_model import FillModel
from domain.orders.terms import OrderSide
from tests.contracts.exchange_gateway import (
    MARKET,
    NOW,
    RESTING_BID,
    TAPE,
    ExchangeGatewayContract,
    GatewayVenue,
    limit,
    market_bid,
)
from tests.integration.sandbox.conftest import served

KEY = UpbitCredentials("sandbox-access-key", SecretStr(SANDBOX_KEYS["sandbox-access-key"]))
TIMEOUT_S = 1.0
HANG_S = 2.5  # past the client's timeout


class Wall:
    """A monotonic clock the test moves by hand (for the gateway's 418 pause)."""

    def __init__(self) -> None:
        self.s = 0.0

    def __call__(self) -> float:
        return self.s


@dataclass
class SandboxVenue:
    url: str
    gateway: UpbitExecutionGateway
    exchange: PaperExchange
    control: SandboxControl
    wall: Wall

    def advance(self, minutes: float) -> None:
        self.control.set_clock(NOW + timedelta(minutes=minutes), frozen=True)

    def orders_at_exchange(self) -> list[str]:
        return [str(order.identifier) for order in self.exchange.orders.values()]

    def order_submissions(self) -> int:
        return self.control.order_posts()

    def spoil_next_orders(self, kind: str, count: int = 1) -> None:
        self.control.faults(
            kind, count=count, hang_s=HANG_S if kind == "hang_after_create" else None
        )

    def heal(self) -> None:
        self.control.clear_faults()


@contextmanager
def sandbox_venue(
    *,
    krw: str = "10000000",
    btc: str = "0",
    participation: str | None = None,
    fee_rate: Decimal | None = None,
    read_retries: int = 4,
) -> Iterator[SandboxVenue]:
    market = SandboxMarket(MARKET, TAPE)
    clock = SandboxClock(NOW)
    clock.set(NOW, frozen=True)
    model = FillModel(max_participation=None if participation is None else Decimal(participation))
    exchange = PaperExchange({MARKET: market}, krw=Decimal(krw), btc=Decimal(btc), model=model)
    app = create_sandbox_app({MARKET: market}, clock, exchange=exchange)
    wall = Wall()
    with (
        served(app) as url,
        UpbitRestClient(
            url, credentials=KEY, timeout_s=TIMEOUT_S, read_retries=read_retries
        ) as client,
        SandboxControl(url) as control,
    ):
        gateway = UpbitExecutionGateway(
            client,
            name="sandbox",
            fee_rate=fee_rate,
            backoff_s=0.05,
            open_page_size=2,  # so every listing pages
            clock=wall,
        )
        yield SandboxVenue(url, gateway, exchange, control, wall)


class TestUpbitGatewayAgainstTheSandbox(ExchangeGatewayContract):
    def venue(
        self, *, krw: str = "10000000", btc: str = "0", participation: str | None = None
    ) -> AbstractContextManager[GatewayVenue]:
        return sandbox_venue(krw=krw, btc=btc, participation=participation)


# Upbit's own rules, beyond the port's contract.
def test_orders_carry_the_order_id_as_identifier_and_upbits_shapes() -> None:
    with sandbox_venue(btc="1") as v:
        tickets = [limit(OrderSide.BID, "0.00050000", "10000000.0"), market_bid("10000")]
        for ticket in tickets:
            v.gateway.submit(ticket)
        placed = {o.identifier: o for o in v.exchange.orders.values()}
        bid, buy = (placed[str(t.order_id)] for t in tickets)
        assert (bid.ord_type, bid.price, bid.volume) == (
            "limit",
            Decimal(10000000),
            Decimal("0.0005"),
        )
        assert (buy.ord_type, buy.price, buy.volume) == ("price", Decimal(10000), None)


def test_an_identifier_burnt_by_a_refusal_with_no_order_is_refused_for_good() -> None:
    with sandbox_venue() as v:
        ticket = limit(OrderSide.BID, "1", "10000000")  # needs more KRW than the account has
        with pytest.raises(ExchangeRefusedOrderError) as first:
            v.gateway.submit(ticket)
        assert first.value.code == "insufficient_funds_bid"
        with pytest.raises(ExchangeRefusedOrderError) as again:
            v.gateway.submit(ticket)
        assert again.value.code == "validation_error"
        assert "identifier was used before" in str(again.value)
        assert v.orders_at_exchange() == []


def test_a_5xx_after_create_of_each_kind_gives_exactly_one_order() -> None:
    for status in (500, 502, 504):
        with sandbox_venue() as v:
            v.control.faults("error_after_create", status=status)
            ticket = limit(OrderSide.BID, *RESTING_BID)
            assert v.gateway.submit(ticket).order_id == ticket.order_id
            assert v.orders_at_exchange() == [str(ticket.order_id)]
            assert v.control.order_posts() == 1


def test_a_418_stops_the_gateway_for_its_pause_without_sending_anything() -> None:
    with sandbox_venue() as v:
        v.control.faults("blocked")
        ticket = limit(OrderSide.BID, *RESTING_BID)
        with pytest.raises(ExchangeUnavailableError) as blocked:
            v.gateway.submit(ticket)
        assert "418" in str(blocked.value) and "nothing was created" in str(blocked.value)
        with pytest.raises(ExchangeUnavailableError, match="blocked"):
            v.gateway.submit(ticket)
        with pytest.raises(ExchangeUnavailableError, match="blocked"):
            v.gateway.find(ticket.order_id)
        assert v.control.order_posts() == 1
        v.wall.s += v.gateway.block_pause_s
        assert v.gateway.submit(ticket).order_id == ticket.order_id
        assert v.orders_at_exchange() == [str(ticket.order_id)]


def test_a_fee_that_does_not_add_up_to_paid_fee_is_refused_and_nothing_is_taken() -> None:
    with sandbox_venue(fee_rate=Decimal("0.0025")) as v:  # not the account's 0.05 %
        ticket = market_bid("10000")
        v.gateway.submit(ticket)
        v.advance(1)
        with pytest.raises(PaidFeeMismatchError) as mismatch:
            v.gateway.find(ticket.order_id)
        assert isinstance(mismatch.value, ExchangeUnavailableError)
        assert "paid_fee" in str(mismatch.value) and "0.0025" in str(mismatch.value)


def test_the_fee_rate_comes_from_orders_chance_per_side() -> None:
    with sandbox_venue(btc="0.01") as v:
        ticket = market_bid("10000")
        v.gateway.submit(ticket)
        v.advance(1)
        found = v.gateway.find(ticket.order_id)
        assert found is not None
        (trade,) = found.trades
        assert trade.fee_krw == trade.qty_btc * trade.price_krw * Decimal("0.0005")


def test_cancelling_an_ended_order_is_refused_with_upbits_name_and_its_state() -> None:
    with sandbox_venue() as v:
        ticket = limit(OrderSide.BID, *RESTING_BID)
        v.gateway.submit(ticket)
        v.gateway.cancel(ticket.order_id)
        with pytest.raises(ExchangeRefusedOrderError) as refused:
            v.gateway.cancel(ticket.order_id)
        assert refused.value.code == "order_not_found" and "it is cancel" in str(refused.value)
        with pytest.raises(ExchangeRefusedOrderError, match="no such order"):
            v.gateway.cancel(uuid4())


def test_an_order_placed_by_hand_without_our_identifier_is_not_listed_as_ours() -> None:
    with sandbox_venue() as v:
        v.gateway.client.place_order(
            [
                ("market", MARKET),
                ("side", "bid"),
                ("volume", "0.0005"),
                ("price", "10000000"),
                ("ord_type", "limit"),
            ]
        )
        ours = limit(OrderSide.BID, *RESTING_BID)
        v.gateway.submit(ours)
        assert [o.order_id for o in v.gateway.open_orders(MARKET)] == [ours.order_id]


def test_an_order_held_under_our_id_in_another_market_is_a_malformed_answer() -> None:
    with sandbox_venue() as v:
        ticket = limit(OrderSide.BID, *RESTING_BID)
        v.gateway.submit(ticket)
        other = replace(ticket, market="KRW-ETH")
        with pytest.raises(MalformedExchangeAnswerError):
            v.gateway.submit(other)
        assert v.orders_at_exchange() == [str(ticket.order_id)]


def test_find_during_an_outage_is_unavailable_and_names_the_exchange() -> None:
    with sandbox_venue(read_retries=1) as v:
        v.control.outage("down")
        with pytest.raises(ExchangeUnavailableError, match="sandbox failed looking up"):
            v.gateway.find(uuid4())


def test_an_order_during_maintenance_is_unavailable_and_not_made() -> None:
    with sandbox_venue() as v:
        v.control.outage("maintenance")
        with pytest.raises(ExchangeUnavailableError, match="offline"):
            v.gateway.submit(limit(OrderSide.BID, *RESTING_BID))
        assert v.orders_at_exchange() == []


def test_an_order_signed_with_a_wrong_secret_is_refused_with_upbits_auth_name() -> None:
    with sandbox_venue() as v:
        forged = UpbitCredentials("sandbox-access-key", SecretStr("not-the-secret" * 5))
        with UpbitRestClient(v.url, credentials=forged) as client:
            gateway = UpbitExecutionGateway(client, name="sandbox")
            with pytest.raises(ExchangeRefusedOrderError) as refused:
                gateway.submit(limit(OrderSide.BID, *RESTING_BID))
        assert refused.value.code == "jwt_verification"
        assert v.orders_at_exchange() == []
