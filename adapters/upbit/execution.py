"""The exchange gateway over Upbit's REST API (or the sandbox): orders at most once (issue 7).

Every order carries `identifier` = our order id (architecture.md, guarantee 2). An order POST
whose answer is lost (timeout, connection error, 5xx) is never sent again blindly: the
identifier is looked up first (with the client's read retries); found, it is the answer; not
found, the same body (same identifier) is sent again, a bounded number of times with back-off.
Upbit refuses an identifier used before, so a resend can never make a second order, and a
refusal is checked against the identifier too (an earlier submission may hold it). A 429 was
refused at the gate and is resent after the throttle has read `Remaining-Req`; a 418 stops
every call for `block_pause_s`. Upbit's and httpx's exceptions never leave this module: callers
see `ExchangeRefusedOrderError` (permanent, Upbit's error name in `code`) or
`ExchangeUnavailableError` (retry later; for a submission, the outcome is unknown).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from functools import partial
from typing import TypeVar
from uuid import UUID

from adapters.upbit.errors import (
    UpbitAuthError,
    UpbitBlockedError,
    UpbitError,
    UpbitMalformedPayloadError,
    UpbitNotFoundError,
    UpbitPermanentError,
    UpbitRateLimitedError,
    UpbitRetryableError,
)
from adapters.upbit.order_translation import (
    MalformedExchangeAnswerError,
    PaidFeeMismatchError,
    describe,
    exchange_order,
    order_body,
)
from adapters.upbit.parsing import UpbitOrder
from adapters.upbit.rest import UpbitRestClient
from commands.errors import ExchangeRefusedOrderError, ExchangeUnavailableError
from commands.ports import ExchangeBalance, ExchangeOrder, ExchangeOrderState, OrderTicket

T = TypeVar("T")


class UpbitExecutionGateway:
    """`ExchangeGateway` over an `UpbitRestClient` with credentials; `name` is upbit or sandbox.

    `fee_rate` fixes the rate of every trade's fee; without it the account's rates are read
    from `orders/chance` (bid_fee, ask_fee) once per market, and read again once when an ended
    order's fees do not add up to its `paid_fee`. `open_page_size` (at most Upbit's 100) is the
    page of GET /v1/orders/open.
    """

    def __init__(
        self,
        client: UpbitRestClient,
        *,
        name: str = "upbit",
        fee_rate: Decimal | None = None,
        submit_attempts: int = 3,
        backoff_s: float = 0.25,
        block_pause_s: float = 60.0,
        open_page_size: int = 100,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if client.credentials is None:
            raise ValueError("the execution gateway needs an Upbit client with credentials")
        if submit_attempts < 1:
            raise ValueError(f"submit_attempts {submit_attempts} must be at least 1")
        self.name = name
        self.client = client
        self.fee_rate = fee_rate
        self.submit_attempts = submit_attempts
        self.backoff_s = backoff_s
        self.block_pause_s = block_pause_s
        self.open_page_size = open_page_size
        self._sleep, self._clock = sleep, clock
        self._rates: dict[str, tuple[Decimal, Decimal]] = {}  # market -> (bid, ask)
        self._blocked_until = float("-inf")

    # The port.
    def submit(self, ticket: OrderTicket) -> ExchangeOrder:
        """Place the order with `identifier` = its order id, at most once (see the module)."""
        body = order_body(ticket)
        what = f"order {ticket.order_id} ({describe(ticket)})"
        delay, last, doubt = self.backoff_s, "", False
        for attempt in range(1, self.submit_attempts + 1):
            self._require_not_blocked(what)
            try:
                placed = self.client.place_order(body)
            except UpbitBlockedError as error:
                self._block()
                raise ExchangeUnavailableError(
                    f"{self.name} blocked us (418) at {what}; no request is sent for "
                    f"{self.block_pause_s:g} s; "
                    f"{'the outcome is unknown' if doubt else 'nothing was created'}: {error}"
                ) from None
            except UpbitRateLimitedError as error:
                last = str(error)  # refused at the gate: nothing was created
            except (UpbitRetryableError, UpbitMalformedPayloadError) as error:
                found = self._lookup(ticket.order_id, f"{what} after {error}")
                if found is not None:
                    return self._same_market(found, ticket)
                last, doubt = str(error), True
            except UpbitAuthError as error:
                raise self._not_allowed(error, what) from None
            except UpbitPermanentError as error:
                return self._refused(ticket, what, error)
            except UpbitError as error:
                raise self._translated(error, f"placing {what}") from None
            else:
                return self._same_market(self._placed(ticket.order_id, placed, what), ticket)
            if attempt < self.submit_attempts:
                self._sleep(delay)
                delay = min(delay * 2, 5.0)
        raise ExchangeUnavailableError(
            f"{self.name} did not take {what} in {self.submit_attempts} attempts (last: {last}); "
            "the outcome is unknown: find the order by its id before sending it again"
        )

    def find(self, order_id: UUID) -> ExchangeOrder | None:
        """Return the order whose identifier is `order_id`, with its trades, or None."""
        return self._lookup(order_id, f"order {order_id}")

    def cancel(self, order_id: UUID) -> ExchangeOrder:
        """Cancel the order's unfilled remainder; return it as the exchange then shows it.

        A cancel whose answer is lost is sent again (cancelling twice changes nothing).
        """
        what = f"cancel of order {order_id}"
        delay, last = self.backoff_s, ""
        for attempt in range(1, self.submit_attempts + 1):
            self._require_not_blocked(what)
            try:
                self.client.cancel_order(identifier=str(order_id))
            except UpbitBlockedError:
                self._block()
                raise ExchangeUnavailableError(f"{self.name} blocked us (418) at {what}") from None
            except UpbitAuthError as error:
                raise self._not_allowed(error, what) from None
            except UpbitPermanentError as error:
                found = self._lookup(order_id, what)
                if found is not None and attempt > 1 and found.state is ExchangeOrderState.CANCEL:
                    return found  # an earlier attempt whose answer was lost cancelled it
                state = "no such order" if found is None else f"it is {found.state.value}"
                raise ExchangeRefusedOrderError(
                    error.name or str(error.status), f"{self.name} refused {what}: {state}"
                ) from None
            except (UpbitRetryableError, UpbitMalformedPayloadError) as error:
                last = str(error)
            except UpbitError as error:
                raise self._translated(error, what) from None
            else:
                found = self._lookup(order_id, what)
                if found is None:
                    raise MalformedExchangeAnswerError(
                        f"{self.name} accepted the {what} but then had no such order"
                    )
                return found
            if attempt < self.submit_attempts:
                self._sleep(delay)
                delay = min(delay * 2, 5.0)
        raise ExchangeUnavailableError(
            f"{self.name} did not answer the {what} in {self.submit_attempts} attempts "
            f"(last: {last}); find the order to learn its state"
        )

    def open_orders(self, market: str) -> list[ExchangeOrder]:
        """Return every order of ours still working in `market`, each with its trades.

        Orders without a UUID identifier were not placed by this system and are left out.
        """
        listed: dict[str, UpbitOrder] = {}
        page = 1
        while True:
            batch = self._ask(
                f"open orders of {market}, page {page}",
                partial(
                    self.client.get_open_orders,
                    market,
                    limit=self.open_page_size,
                    page=page,
                    order_by="asc",
                ),
            )
            listed.update((o.uuid, o) for o in batch if o.uuid not in listed)
            if len(batch) < self.open_page_size:
                break
            page += 1
        found = []
        for uuid, order in listed.items():
            order_id = _our_id(order.identifier)
            if order_id is None:
                continue
            full = self._ask(f"order {uuid}", partial(self.client.get_order, uuid=uuid))
            converted = self._converted(order_id, full)
            if converted.state is ExchangeOrderState.WAIT:
                found.append(converted)
        return found

    def balances(self) -> list[ExchangeBalance]:
        """Return the account's balances: free and locked, per currency."""
        accounts = self._ask("the account's balances", self.client.get_accounts)
        for account in accounts:
            if account.balance < 0 or account.locked < 0:
                raise MalformedExchangeAnswerError(
                    f"{self.name} answered {account.currency} balance {account.balance}, "
                    f"locked {account.locked}: a balance is never negative"
                )
        return [ExchangeBalance(a.currency, a.balance, a.locked) for a in accounts]

    # Steps.
    def _placed(self, order_id: UUID, placed: UpbitOrder, what: str) -> ExchangeOrder:
        if placed.trades_count or placed.executed_volume:  # the POST answer lists no trades
            found = self._lookup(order_id, what)
            if found is None:
                raise MalformedExchangeAnswerError(
                    f"{self.name} placed {what} as {placed.uuid} but then had no such order"
                )
            return found
        return self._converted(order_id, placed)

    def _refused(self, ticket: OrderTicket, what: str, error: UpbitPermanentError) -> ExchangeOrder:
        # Upbit does not document which check comes first: a refusal (for the identifier, or
        # for funds an earlier submission of this ticket locked) may hide our own order.
        found = self._lookup(ticket.order_id, f"{what}, refused with {error.name}")
        if found is not None:
            return self._same_market(found, ticket)
        code = error.name or str(error.status)
        if "identifier" in (error.upbit_message or ""):
            raise ExchangeRefusedOrderError(
                code,
                f"{self.name} refused {what}: its identifier was used before (an earlier "
                f"request burnt it) and no order holds it ({error.upbit_message})",
            ) from None
        raise ExchangeRefusedOrderError(
            code, f"{self.name} refused {what}: {code}: {error.upbit_message or error}"
        ) from None

    def _not_allowed(
        self, error: UpbitAuthError, what: str
    ) -> ExchangeRefusedOrderError | ExchangeUnavailableError:
        # 401/403 come before the request is looked at: nothing was created or cancelled.
        if error.name == "market_offline":
            return ExchangeUnavailableError(
                f"{self.name} market is offline (maintenance) for {what}: {error}"
            )
        return ExchangeRefusedOrderError(
            error.name or str(error.status), f"{self.name} refused {what}: {error}"
        )

    def _lookup(self, order_id: UUID, what: str) -> ExchangeOrder | None:
        self._require_not_blocked(what)
        try:
            order = self.client.get_order(identifier=str(order_id))
        except UpbitNotFoundError:
            return None
        except UpbitError as error:
            raise self._translated(error, f"looking up {what}") from None
        return self._converted(order_id, order)

    def _converted(self, order_id: UUID, order: UpbitOrder) -> ExchangeOrder:
        rate = self._rate(order.market, order.side) if order.trades else None
        try:
            return exchange_order(order, order_id, rate)
        except PaidFeeMismatchError:
            if self.fee_rate is not None:
                raise
            self._rates.pop(order.market, None)  # the account's rate may have changed
            return exchange_order(order, order_id, self._rate(order.market, order.side))

    def _rate(self, market: str, side: str) -> Decimal:
        if self.fee_rate is not None:
            return self.fee_rate
        if market not in self._rates:
            chance = self._ask(f"the fees of {market}", lambda: self.client.get_chance(market))
            self._rates[market] = (chance.bid_fee, chance.ask_fee)
        bid, ask = self._rates[market]
        return bid if side == "bid" else ask

    def _same_market(self, order: ExchangeOrder, ticket: OrderTicket) -> ExchangeOrder:
        if order.market != ticket.market:
            raise MalformedExchangeAnswerError(
                f"{self.name} holds identifier {ticket.order_id} for a {order.market} order, "
                f"not {ticket.market}"
            )
        return order

    def _ask(self, what: str, call: Callable[[], T]) -> T:
        self._require_not_blocked(what)
        try:
            return call()
        except UpbitError as error:
            raise self._translated(error, f"asking for {what}") from None

    def _translated(self, error: UpbitError, doing: str) -> ExchangeUnavailableError:
        if isinstance(error, UpbitBlockedError):
            self._block()
            return ExchangeUnavailableError(f"{self.name} blocked us (418) {doing}")
        if isinstance(error, UpbitMalformedPayloadError):
            return MalformedExchangeAnswerError(f"{self.name} answered {doing}: {error}")
        return ExchangeUnavailableError(f"{self.name} failed {doing}: {error}")

    def _block(self) -> None:
        self._blocked_until = self._clock() + self.block_pause_s

    def _require_not_blocked(self, what: str) -> None:
        left = self._blocked_until - self._clock()
        if left > 0:
            raise ExchangeUnavailableError(
                f"{self.name} blocked us (418); nothing is sent for {left:.1f} s more ({what})"
            )


def _our_id(identifier: str | None) -> UUID | None:
    if identifier is None:
        return None
    try:
        return UUID(identifier)
    except ValueError:
        return None
