"""A fenced gateway sends only while the fence holds: a lost lease stops orders and cancels
before they reach the exchange; look-ups still pass."""

from __future__ import annotations

from decimal import Decimal
from uuid import UUID

import pytest

from adapters.trading.fenced_gateway import FencedGateway
from commands.errors import RunLeaseLostError
from commands.ports import OrderTicket
from domain.orders.terms import OrderSide, OrderType
from tests.builders import BASE_TIME
from tests.fakes.exchange import FakeExchange
from tests.unit.commands.processes.runs import MODEL

ORDER = UUID("00000000-0000-0000-0000-000000000001")
TICKET = OrderTicket(
    ORDER, "KRW-BTC", OrderSide.BID, OrderType.LIMIT, Decimal("1000000"), Decimal("0.01")
)


class Fence:
    """A lease that holds until `lose()`."""

    def __init__(self) -> None:
        self.checks, self.is_lost = 0, False

    def __call__(self) -> None:
        self.checks += 1
        if self.is_lost:
            raise RunLeaseLostError("run 'r': another process took the lease")


def test_an_order_is_sent_after_the_fence_holds() -> None:
    exchange, fence = FakeExchange(MODEL, BASE_TIME), Fence()
    gateway = FencedGateway(exchange, fence)

    placed = gateway.submit(TICKET)

    assert placed.order_id == ORDER and exchange.posts == 1 and fence.checks == 1
    assert gateway.name == exchange.name


def test_a_lost_lease_sends_neither_order_nor_cancel_but_looks_up() -> None:
    exchange, fence = FakeExchange(MODEL, BASE_TIME), Fence()
    gateway = FencedGateway(exchange, fence)
    gateway.submit(TICKET)
    fence.is_lost = True

    with pytest.raises(RunLeaseLostError):
        gateway.submit(TICKET)
    with pytest.raises(RunLeaseLostError):
        gateway.cancel(ORDER)

    assert exchange.posts == 1
    assert [call for call, _ in exchange.calls] == ["submit"]
    found = gateway.find(ORDER)
    assert found is not None and found.order_id == ORDER
