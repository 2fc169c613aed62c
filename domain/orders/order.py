"""The Order aggregate: an order's terms, its lifecycle through the status table, and its fills.

Decide, then evolve (S2.5): public methods validate and raise before any event exists; the
`apply` methods of the events only assign state. Fills are idempotent by exchange trade id.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.constants import DEFAULT_FEE_RATE
from domain.errors import (
    ConflictingFillError,
    FillExceedsOrderError,
    IllegalOrderTransitionError,
    InvalidOrderShapeError,
)
from domain.events import (
    EXCHANGE_ID_MAX_CHARS,
    REASON_MAX_CHARS,
    Cause,
    LedgerCreated,
    LedgerEvent,
    create_aggregate,
    require_id,
    require_text,
)
from domain.ids import order_id
from domain.money import non_negative_krw, positive_btc, positive_krw
from domain.orders.description import describe_order
from domain.orders.fill import Fill
from domain.orders.fill_rules import (
    fill_completion,
    require_fee_within_rate,
    require_within_limit,
)
from domain.orders.status import (
    INITIAL_STATUS,
    OrderStatus,
    OrderTrigger,
    next_status,
    require_can_fill,
)
from domain.orders.terms import OrderSide, OrderTerms, OrderType

ZERO = Decimal(0)
REJECTION_SOURCES = frozenset({"risk", "exchange", "submission"})


class Order(Aggregate):
    """An order of one strategy in one market, from NEW to FILLED, FAILED or CANCELLED."""

    class Placed(LedgerCreated):
        """The order was placed (status NEW)."""

        TOPIC = "order.placed"
        client_order_id: str
        strategy_id: str
        market: str
        side: str
        order_type: str
        price_krw: Decimal | None
        volume_btc: Decimal | None
        amount_krw: Decimal | None
        locked_krw: Decimal
        locked_btc: Decimal

        def apply(self, order: Order) -> None:
            """Evolve the order's state by this event."""
            order.locked_krw = self.locked_krw
            order.locked_btc = self.locked_btc
            order.client_order_id = self.client_order_id
            order.strategy_id = self.strategy_id
            order.market = self.market
            order.side = OrderSide(self.side)
            order.order_type = OrderType(self.order_type)
            order.price_krw = self.price_krw
            order.volume_btc = self.volume_btc
            order.amount_krw = self.amount_krw
            order.status = INITIAL_STATUS
            order.exchange_order_id = None
            order.executed_volume_btc = Decimal(0)
            order.executed_funds_krw = Decimal(0)
            order.paid_fee_krw = Decimal(0)
            order.fills = {}
            order.close_reason = None

    class Accepted(LedgerEvent):
        """The exchange acknowledged the order (status OPEN)."""

        TOPIC = "order.accepted"
        TRIGGER = OrderTrigger.ACCEPT
        exchange_order_id: str

        def apply(self, order: Order) -> None:
            """Evolve the order's state by this event."""
            order.exchange_order_id = self.exchange_order_id
            order.status = next_status(order.status, self.TRIGGER)

    class _FillEvent(LedgerEvent):
        trade_id: str
        price_krw: Decimal
        qty_btc: Decimal
        fee_krw: Decimal

        def apply(self, order: Order) -> None:
            """Evolve the order's state by this event."""
            order.fills[self.trade_id] = [self.price_krw, self.qty_btc, self.fee_krw]
            order.executed_volume_btc += self.qty_btc
            order.executed_funds_krw += self.qty_btc * self.price_krw
            order.paid_fee_krw += self.fee_krw

    class PartiallyFilled(_FillEvent):
        """A fill executed part of the order (status PARTIAL)."""

        TOPIC = "order.partially_filled"
        TRIGGER = OrderTrigger.FILL_PARTIALLY

        def apply(self, order: Order) -> None:
            """Evolve the order's state by this event."""
            super().apply(order)
            order.status = next_status(order.status, self.TRIGGER)

    class Filled(_FillEvent):
        """A fill completed the order (status FILLED)."""

        TOPIC = "order.filled"
        TRIGGER = OrderTrigger.FILL_COMPLETELY

        def apply(self, order: Order) -> None:
            """Evolve the order's state by this event."""
            super().apply(order)
            order.status = next_status(order.status, self.TRIGGER)

    class Cancelled(LedgerEvent):
        """The unfilled remainder was cancelled; earlier fills stay (status CANCELLED)."""

        TOPIC = "order.cancelled"
        TRIGGER = OrderTrigger.CANCEL
        reason: str

        def apply(self, order: Order) -> None:
            """Evolve the order's state by this event."""
            order.status = next_status(order.status, self.TRIGGER)
            order.close_reason = self.reason

    class Rejected(LedgerEvent):
        """Risk, the exchange or the submission refused the order (status FAILED)."""

        TOPIC = "order.rejected"
        TRIGGER = OrderTrigger.REJECT
        reason: str
        rejected_by: str

        def apply(self, order: Order) -> None:
            """Evolve the order's state by this event."""
            order.status = next_status(order.status, self.TRIGGER)
            order.close_reason = f"{self.rejected_by}: {self.reason}"

    class SubmissionFailed(LedgerEvent):
        """Sending the order got no answer (timeout, 5xx, outage): it stays NEW, outcome unknown.

        Before anything is sent again the order is looked up at the exchange by its id.
        """

        TOPIC = "order.submission_failed"
        reason: str

        def apply(self, order: Order) -> None:
            """A failed sending changes no state: the order is NEW until the exchange answers."""

    # State, assigned only by the events above.
    client_order_id: str
    strategy_id: str
    market: str
    side: OrderSide
    order_type: OrderType
    price_krw: Decimal | None
    volume_btc: Decimal | None
    amount_krw: Decimal | None
    locked_krw: Decimal
    locked_btc: Decimal
    status: OrderStatus
    exchange_order_id: str | None
    executed_volume_btc: Decimal
    executed_funds_krw: Decimal
    paid_fee_krw: Decimal
    fills: dict[str, list[Decimal]]
    close_reason: str | None

    def __init__(self) -> None:
        """State is set by the Placed event; see `place`."""

    @classmethod
    def place(
        cls,
        *,
        client_order_id: str,
        strategy_id: str,
        terms: OrderTerms,
        locked: tuple[Decimal, Decimal],
        cause: Cause,
    ) -> Order:
        """Place a new order with validated terms and the (KRW, BTC) its strategy locked for it.

        The order's id derives from its client order id.

        Raises:
            MissingTextError: the client order id or strategy id is blank.
        """
        client_id = require_id(client_order_id, "client order id")
        return create_aggregate(
            cls,
            cls.Placed,
            id=order_id(client_id),
            client_order_id=client_id,
            strategy_id=require_id(strategy_id, "strategy id"),
            market=terms.market.code,
            side=terms.side.value,
            order_type=terms.order_type.value,
            price_krw=terms.price_krw,
            volume_btc=terms.volume_btc,
            amount_krw=terms.amount_krw,
            locked_krw=locked[0],
            locked_btc=locked[1],
            **cause.event_fields(),
        )

    @property
    def order_id(self) -> UUID:
        """Return the order's id."""
        return UUID(str(self.id))

    @property
    def is_amount_order(self) -> bool:
        """Return True for a market bid, sized by a KRW amount rather than a BTC volume."""
        return self.amount_krw is not None

    @property
    def average_price_krw(self) -> Decimal | None:
        """Return the volume-weighted average fill price, or None before the first fill."""
        if not self.executed_volume_btc:
            return None
        return self.executed_funds_krw / self.executed_volume_btc

    def locked_remaining(self) -> tuple[Decimal, Decimal]:
        """Return the (KRW, BTC) still locked for what has not executed; zero once ended.

        A limit bid's lock shrinks in proportion to its executed volume; a market bid's by what
        its fills cost with fees; an ask's by its executed volume.
        """
        if self.status.is_terminal:
            return ZERO, ZERO
        if self.side is OrderSide.ASK:
            return ZERO, self.locked_btc - self.executed_volume_btc
        if self.amount_krw is not None:
            return max(ZERO, self.locked_krw - self.executed_funds_krw - self.paid_fee_krw), ZERO
        assert self.volume_btc is not None  # a limit bid has a volume
        per_btc = self.locked_krw / self.volume_btc
        return (self.volume_btc - self.executed_volume_btc) * per_btc, ZERO

    def fill_of(self, trade_id: str) -> Fill | None:
        """Return the recorded fill with this trade id, if any."""
        figures = self.fills.get(trade_id)
        return None if figures is None else Fill(trade_id, *figures)

    def accept(self, exchange_order_id: str, cause: Cause) -> None:
        """Record the exchange's acknowledgement.

        Raises:
            IllegalOrderTransitionError: the order is not NEW.
        """
        next_status(self.status, self.Accepted.TRIGGER)
        self.trigger_event(
            self.Accepted,
            exchange_order_id=require_text(
                exchange_order_id, "exchange order id", EXCHANGE_ID_MAX_CHARS
            ),
            **cause.event_fields(),
        )

    def record_fill(
        self,
        *,
        trade_id: str,
        price_krw: object,
        qty_btc: object,
        fee_krw: object,
        cause: Cause,
        fee_rate: Decimal = DEFAULT_FEE_RATE,
    ) -> Fill | None:
        """Record a fill; return it, or None when this trade id was already recorded unchanged.

        An amount order (market bid) completes once its remaining KRW buys less than 1e-8 BTC
        at the fill price; a volume order completes when its whole volume has executed. Its fee
        is at most the fill's total x `fee_rate` (the account's), rounded up to the won.

        Raises:
            IllegalOrderTransitionError: the order is not OPEN or PARTIAL.
            InvalidAmountError: a figure is not positive (fee: negative).
            ConflictingFillError: the trade id was recorded with other figures.
            FillExceedsOrderError: the fill executes more than what remains.
            FillBeyondLimitPriceError: a limit order's fill is on the wrong side of its price.
            FeeAboveRateError: the fee is more than the fill's total x the fee rate.
        """
        fill = Fill(
            trade_id=require_text(trade_id, "trade id", EXCHANGE_ID_MAX_CHARS),
            price_krw=positive_krw(price_krw, "fill price"),
            qty_btc=positive_btc(qty_btc, "fill quantity"),
            fee_krw=non_negative_krw(fee_krw, "fill fee"),
        )
        known = self.fill_of(fill.trade_id)
        if known is not None:
            if known != fill:
                raise ConflictingFillError(
                    f"trade {fill.trade_id} was recorded on order {self.id} as {known.qty_btc} BTC "
                    f"at {known.price_krw} KRW (fee {known.fee_krw}); now {fill.qty_btc} BTC at "
                    f"{fill.price_krw} KRW (fee {fill.fee_krw}) was reported"
                )
            return None  # a redelivered fill, even of an order that has since ended
        require_can_fill(self.status)
        is_complete, excess = fill_completion(self, fill)
        event_class = self.Filled if is_complete else self.PartiallyFilled
        next_status(self.status, event_class.TRIGGER)
        if excess is not None:
            raise FillExceedsOrderError(excess)
        require_within_limit(self, fill)
        require_fee_within_rate(fill, fee_rate)
        self.trigger_event(
            event_class,
            trade_id=fill.trade_id,
            price_krw=fill.price_krw,
            qty_btc=fill.qty_btc,
            fee_krw=fill.fee_krw,
            **cause.event_fields(),
        )
        return fill

    def cancel(self, reason: str, cause: Cause) -> None:
        """Cancel the unfilled remainder; fills already recorded stay.

        Raises:
            IllegalOrderTransitionError: the order is not OPEN or PARTIAL.
            MissingTextError: the reason is blank.
        """
        next_status(self.status, self.Cancelled.TRIGGER)
        self.trigger_event(
            self.Cancelled,
            reason=require_text(reason, "cancel reason", REASON_MAX_CHARS),
            **cause.event_fields(),
        )

    def reject(self, reason: str, rejected_by: str, cause: Cause) -> None:
        """Record that risk, the exchange or the submission refused the order.

        Raises:
            IllegalOrderTransitionError: the order is not NEW.
            InvalidOrderShapeError: `rejected_by` is not risk, exchange or submission.
        """
        next_status(self.status, self.Rejected.TRIGGER)
        if rejected_by not in REJECTION_SOURCES:
            raise InvalidOrderShapeError(
                f"rejected_by {rejected_by!r} is not one of: {', '.join(sorted(REJECTION_SOURCES))}"
            )
        self.trigger_event(
            self.Rejected,
            reason=require_text(reason, "reject reason"),
            rejected_by=rejected_by,
            **cause.event_fields(),
        )

    def record_submission_failure(self, reason: str, cause: Cause) -> None:
        """Record that sending the NEW order got no answer.

        Raises:
            IllegalOrderTransitionError: the order is not NEW (the exchange already answered).
        """
        if self.status is not OrderStatus.NEW:
            raise IllegalOrderTransitionError(
                f"order {self.id} is {self.status.value}: its sending cannot fail any more"
            )
        self.trigger_event(
            self.SubmissionFailed,
            reason=require_text(reason, "failure reason"),
            **cause.event_fields(),
        )

    def describe(self) -> dict[str, Any]:
        """Return the order's state as plain values (for views and the CLI)."""
        return describe_order(self)
