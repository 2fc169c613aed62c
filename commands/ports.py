"""The ports the write side needs from the outside world (style S1.1).

They are declared here and filled by adapters.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Protocol
from uuid import UUID

from domain.candles.candle import Candle
from domain.orders.terms import OrderSide, OrderType


class CandleSource(Protocol):
    """Closed 1-minute candles of an exchange (Upbit REST, or the sandbox)."""

    def candles_before(self, market: str, before: datetime, count: int) -> list[Candle]:
        """Return up to `count` closed candles starting before `before`, oldest first.

        Minutes without trades are absent, as on Upbit.
        """
        ...


# The exchange an order goes to (issue 7): Upbit, or the sandbox standing in for it.


class ExchangeOrderState(Enum):
    """An order's state at the exchange, in Upbit's words (`wait`, `done`, `cancel`)."""

    WAIT = "wait"
    """Accepted and still working (resting, or partly filled)."""
    DONE = "done"
    """Completely filled."""
    CANCEL = "cancel"
    """Ended without filling in full (cancelled; a market bid's unspendable remainder)."""


@dataclass(frozen=True)
class OrderTicket:
    """One order as it is sent to the exchange: our order id (Upbit's `identifier`), its terms.

    A market bid gives `amount_krw`; a market ask `volume_btc`; a limit order both price and
    volume.
    """

    order_id: UUID
    market: str
    side: OrderSide
    order_type: OrderType
    price_krw: Decimal | None = None
    volume_btc: Decimal | None = None
    amount_krw: Decimal | None = None


@dataclass(frozen=True)
class ExchangeTrade:
    """One execution of one of our orders at the exchange."""

    trade_id: str
    """The exchange's id of the trade: what makes recording a fill idempotent."""
    price_krw: Decimal
    qty_btc: Decimal
    fee_krw: Decimal
    executed_at: datetime
    """When the exchange executed it (UTC)."""


@dataclass(frozen=True)
class ExchangeOrder:
    """The exchange's view of one of our orders: its id there, state and every trade so far."""

    order_id: UUID
    """Our order id, which the exchange holds as the order's `identifier`."""
    exchange_order_id: str
    market: str
    state: ExchangeOrderState
    created_at: datetime
    trades: tuple[ExchangeTrade, ...] = ()


@dataclass(frozen=True)
class ExchangeBalance:
    """One currency of the exchange account: free and locked in orders."""

    currency: str
    free: Decimal
    locked: Decimal


class ExchangeGateway(Protocol):
    """An exchange that orders reach at most once (architecture.md, guarantee 2).

    Errors, from `commands.errors`: `ExchangeRefusedOrderError` (permanent: the exchange
    refused the order, which is not there), `ExchangeUnavailableError` (retryable: timeout,
    5xx, rate limit, network; for a submission the outcome is unknown and must be looked up
    by the order's id before anything is sent again).
    """

    name: str
    """Names the exchange in the events it causes (`sandbox`, `upbit`)."""

    def submit(self, ticket: OrderTicket) -> ExchangeOrder:
        """Place the order with `identifier` = its order id, at most once.

        An answer lost to a timeout or a 5xx is looked up by identifier before any resend; a
        resend carries the same identifier, which the exchange refuses to use twice.

        Raises:
            ExchangeRefusedOrderError: the exchange refused the order (it is not there).
            ExchangeUnavailableError: the outcome could not be learnt; look it up later.
        """
        ...

    def find(self, order_id: UUID) -> ExchangeOrder | None:
        """Return the order whose identifier is `order_id`, or None when the exchange has none.

        Raises:
            ExchangeUnavailableError: the exchange could not be asked.
        """
        ...

    def cancel(self, order_id: UUID) -> ExchangeOrder:
        """Ask the exchange to cancel the order's unfilled remainder; return its state after.

        Raises:
            ExchangeRefusedOrderError: the exchange has no such order, or it is not cancellable.
            ExchangeUnavailableError: the exchange could not be asked.
        """
        ...

    def open_orders(self, market: str) -> list[ExchangeOrder]:
        """Return every order of ours still working in `market`, trades included.

        Raises:
            ExchangeUnavailableError: the exchange could not be asked.
        """
        ...

    def balances(self) -> list[ExchangeBalance]:
        """Return the account's balances.

        Raises:
            ExchangeUnavailableError: the exchange could not be asked.
        """
        ...
