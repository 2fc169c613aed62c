"""An exchange gateway that sends only while this process holds its run's lease (issue 18 #8).

Before every order and every cancel the fence is checked (`RunLease.check`): a process that
lost its lease raises `RunLeaseLostError` instead of sending. Look-ups pass through.
"""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from commands.ports import ExchangeGateway, ExchangeOrder, OrderTicket


class FencedGateway:
    """`gateway`, with `fence()` called before each submit and cancel."""

    def __init__(self, gateway: ExchangeGateway, fence: Callable[[], None]) -> None:
        self.gateway, self.fence = gateway, fence
        self.name = gateway.name

    def submit(self, ticket: OrderTicket) -> ExchangeOrder:
        """Check the fence, then submit."""
        self.fence()
        return self.gateway.submit(ticket)

    def find(self, order_id: UUID) -> ExchangeOrder | None:
        """Look the order up (no fence: nothing is sent)."""
        return self.gateway.find(order_id)

    def cancel(self, order_id: UUID) -> ExchangeOrder:
        """Check the fence, then cancel."""
        self.fence()
        return self.gateway.cancel(order_id)

    def open_orders(self, market: str) -> list[ExchangeOrder]:
        """List the working orders (no fence: nothing is sent)."""
        return self.gateway.open_orders(market)
