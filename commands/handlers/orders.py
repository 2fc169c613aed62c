"""Use cases of orders: place (operator, strategy, batch), accept, fill, cancel, reject.

Each loads the aggregates it needs, lets them decide (a refusal raises a domain error and
appends nothing), and saves every new event of the command in one transaction, within the
account's writer turn.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from commands.errors import UnknownOrderError
from commands.handlers.risk import get_risk_limits
from commands.ledger_port import Ledger
from commands.messages import (
    AcceptOrder,
    CancelOrder,
    PlaceOrder,
    RecordFill,
    RecordSubmissionFailure,
    RejectOrder,
)
from domain.errors import DomainError, DuplicateOrderError, RiskError, UnknownStrategyError
from domain.events import Cause
from domain.ids import order_id, portfolio_id, position_id
from domain.market import parse_market
from domain.money import whole_krw
from domain.orders.order import Order
from domain.orders.terms import (
    OrderSide,
    OrderTerms,
    order_terms,
    order_total_krw,
    parse_side,
    parse_type,
)
from domain.portfolio.ledger import Portfolio
from domain.positions.position import Position
from domain.risk.limits import Limits
from domain.risk.rules import PRE_TRADE_DENIALS, OrderRiskContext, check_order
from domain.risk.trading_state import TradingState
from domain.sessions import trading_day

RiskSeen = tuple[TradingState, Limits]
"""The trading state and limits a deciding run has applied (`place_strategy_order`)."""


@dataclass(frozen=True)
class OrderPlacement:
    """A strategy's order as the ledger recorded it: placed, or denied by a pre-trade rule."""

    order_id: UUID
    denial: RiskError | None = None
    """The pre-trade rule's refusal, when the order was recorded as rejected by risk."""

    @property
    def is_denied(self) -> bool:
        """Return True when a pre-trade risk rule refused the order (it never rested)."""
        return self.denial is not None


# Queries of the write model.
def get_order(ledger: Ledger, order_id_: UUID) -> Order:
    """Return the order with this id.

    Raises:
        UnknownOrderError: no order has this id.
    """
    order = ledger.find(order_id_, Order)
    if order is None:
        raise UnknownOrderError(f"order {order_id_} does not exist")
    return order


def get_portfolio(ledger: Ledger) -> Portfolio | None:
    """Return the account's cash ledger, or None before any capital was allocated."""
    return ledger.find(portfolio_id(ledger.account), Portfolio)


def get_position(ledger: Ledger, strategy_id: str, market: str) -> Position | None:
    """Return a strategy's position in a market, or None before its first fill."""
    return ledger.find(position_id(ledger.account, strategy_id, market), Position)


# Commands.
def place_orders(ledger: Ledger, commands: Sequence[PlaceOrder]) -> list[UUID]:
    """Place several orders in one transaction: all are recorded, or none is."""

    def attempt() -> list[UUID]:
        try:
            return place(ledger, commands)
        except (IntegrityError, DomainError):
            # An order id already in the log surfaces as a write conflict, or earlier as a
            # refusal (its cash is already locked): only then is a look-up per order worth
            # it, and a duplicate is the answer the caller needs.
            _refuse_duplicates(ledger, commands)
            raise

    return ledger.retrying(attempt, f"place {len(commands)} order(s)")


def place_operator_order(ledger: Ledger, command: PlaceOrder) -> UUID:
    """Place an order a person typed (CLI, API); a market bid's amount is whole KRW here.

    A strategy's sized amount is kept exactly (`place_orders`, `place_strategy_order`).

    Raises:
        DomainError: a value, order, ledger or risk rule refuses the order.
    """
    if command.amount_krw is not None:
        whole_krw(command.amount_krw, "amount")
    return place_orders(ledger, [command])[0]


def place_strategy_order(
    ledger: Ledger, command: PlaceOrder, *, risk_seen: RiskSeen | None = None
) -> OrderPlacement:
    """Place a strategy's order; record a refusal by a pre-trade risk rule, not raise it.

    `risk_seen`: the trading state and limits as the deciding run has applied them (a change
    of the risk record reaches a run at the first candle recorded after it, so a backtest of
    its candles decides the same); None: the risk record's own.

    A denied order (HALTED, REDUCING and a bid, per-order notional, exposure, daily loss,
    submit rate) is recorded as `order.placed`, locking nothing, then `order.rejected` by
    `risk` with the reason `<code>: <message>` (the code is the broken rule's, e.g.
    `trading_halted`), in one transaction; the cash ledger is untouched. Orders of operators
    are refused instead, appending nothing.

    Raises:
        DomainError: a value, order or ledger rule refuses the order; nothing is recorded.
    """

    def attempt() -> OrderPlacement:
        try:
            try:
                return OrderPlacement(place(ledger, [command], risk_seen=risk_seen)[0])
            except PRE_TRADE_DENIALS as denial:
                return record_denial(ledger, command, denial)
        except (IntegrityError, DomainError):
            _refuse_duplicates(ledger, [command])
            raise

    return ledger.retrying(attempt, "place a strategy order")


def record_denial(ledger: Ledger, command: PlaceOrder, denial: RiskError) -> OrderPlacement:
    """Record a strategy's order as placed, locking nothing, then rejected by `risk`."""
    order = Order.place(
        client_order_id=command.client_order_id,
        strategy_id=command.strategy_id,
        terms=_terms(ledger, command),
        locked=(Decimal(0), Decimal(0)),
        cause=command.cause,
    )
    order.reject(f"{denial.code}: {denial}", "risk", command.cause)
    ledger.save(order)
    return OrderPlacement(order.order_id, denial)


def place(
    ledger: Ledger, commands: Sequence[PlaceOrder], *, risk_seen: RiskSeen | None = None
) -> list[UUID]:
    """Decide and save the orders once (no retry); return their ids."""
    portfolio = get_portfolio(ledger)
    if risk_seen is None:
        risk = get_risk_limits(ledger)
        state = risk.state if risk is not None else TradingState.ACTIVE
        limits = risk.limits if risk is not None else Limits()
    else:
        state, limits = risk_seen
    orders: list[Order] = []
    new_ids: set[UUID] = set()
    positions: dict[UUID, Position | None] = {}
    for command in commands:
        at = command.cause.occurred_at
        terms = _terms(ledger, command)
        new_id = order_id(command.client_order_id.strip())
        if new_id in new_ids:
            raise DuplicateOrderError(
                f"client order id {command.client_order_id!r} is used twice in one batch "
                f"(order {new_id}); every order needs its own client order id"
            )
        if portfolio is None:
            raise UnknownStrategyError(
                f"strategy {command.strategy_id!r} has no capital allocated; allocate "
                "capital first (no strategy has any yet)"
            )
        book = portfolio.book(command.strategy_id)
        # A bid needs the position only to measure exposure against a limit.
        position = None
        if terms.side is OrderSide.ASK or limits.max_exposure_krw is not None:
            pid = position_id(ledger.account, command.strategy_id, terms.market.code)
            if pid not in positions:
                positions[pid] = ledger.find(pid, Position)
            position = positions[pid]
        check_order(
            state,
            limits,
            OrderRiskContext(
                strategy_id=command.strategy_id,
                side=terms.side,
                notional_krw=order_total_krw(terms),
                exposure_krw=book.reserved_krw
                + (position.cost_basis_krw if position else Decimal(0)),
                daily_net_pnl_krw=portfolio.daily_net_pnl(trading_day(at).isoformat()),
                trading_day=trading_day(at).isoformat(),
                recent_orders=0
                if limits.max_orders_per_minute is None
                else portfolio.orders_placed_within(at),
            ),
        )
        locked = portfolio.reserve(
            order_id=str(new_id),
            strategy_id=command.strategy_id,
            terms=terms,
            fee_rate=ledger.fee_rate,
            held_btc=position.qty_btc if position else Decimal(0),
            cause=command.cause,
        )
        new_ids.add(new_id)
        orders.append(
            Order.place(
                client_order_id=command.client_order_id,
                strategy_id=command.strategy_id,
                terms=terms,
                locked=locked,
                cause=command.cause,
            )
        )
    ledger.save(portfolio, *orders)
    return [order.order_id for order in orders]


def accept_order(ledger: Ledger, command: AcceptOrder) -> None:
    """Record the exchange's acknowledgement of an order (NEW -> OPEN)."""
    _change(
        ledger,
        command.order_id,
        lambda order: order.accept(command.exchange_order_id, command.cause),
        f"accept order {command.order_id}",
    )


def record_fill(ledger: Ledger, command: RecordFill) -> bool:
    """Record a fill in the order, its position and the cash ledger, atomically.

    Return False when the trade id was already recorded with the same figures.
    """

    def attempt() -> bool:
        order = get_order(ledger, command.order_id)
        locked_before = order.locked_remaining()
        fill = order.record_fill(
            trade_id=command.trade_id,
            price_krw=command.price_krw,
            qty_btc=command.qty_btc,
            fee_krw=command.fee_krw,
            cause=command.cause,
            fee_rate=ledger.fee_rate,
        )
        if fill is None:
            return False
        locked_after = order.locked_remaining()
        position = get_position(ledger, order.strategy_id, order.market) or Position.open(
            account=ledger.account,
            strategy_id=order.strategy_id,
            market=order.market,
            cause=command.cause,
        )
        realised = position.apply_fill(
            order_id=str(order.id), side=order.side, fill=fill, cause=command.cause
        )
        portfolio = _portfolio_of(ledger, order)
        portfolio.settle_fill(
            order=order,
            fill=fill,
            released_krw=locked_before[0] - locked_after[0],
            released_btc=locked_before[1] - locked_after[1],
            realised_pnl_krw=realised,
            cause=command.cause,
        )
        ledger.save(order, position, portfolio)
        return True

    return ledger.retrying(attempt, f"record fill {command.trade_id}")


def cancel_order(ledger: Ledger, command: CancelOrder) -> None:
    """Cancel an order's unfilled remainder and release what it still locks."""
    _end(
        ledger,
        command.order_id,
        lambda order: order.cancel(command.reason, command.cause),
        "cancelled",
        command.cause,
        f"cancel order {command.order_id}",
    )


def reject_order(ledger: Ledger, command: RejectOrder) -> None:
    """Record that an order was refused (NEW -> FAILED) and release its lock."""
    _end(
        ledger,
        command.order_id,
        lambda order: order.reject(command.reason, command.rejected_by, command.cause),
        "rejected",
        command.cause,
        f"reject order {command.order_id}",
    )


def record_submission_failure(ledger: Ledger, command: RecordSubmissionFailure) -> None:
    """Record that sending an order got no answer; it stays NEW."""
    _change(
        ledger,
        command.order_id,
        lambda order: order.record_submission_failure(command.reason, command.cause),
        f"record submission failure of order {command.order_id}",
    )


def _change(ledger: Ledger, order_id_: UUID, change: Callable[[Order], None], what: str) -> None:
    """Load the order, change it, save it: one event of the order alone."""

    def attempt() -> None:
        order = get_order(ledger, order_id_)
        change(order)
        ledger.save(order)

    ledger.retrying(attempt, what)


def _end(
    ledger: Ledger,
    order_id_: UUID,
    end: Callable[[Order], None],
    released_as: str,
    cause: Cause,
    what: str,
) -> None:
    """End the order (cancel, reject) and release what it still locks, in one save."""

    def attempt() -> None:
        order = get_order(ledger, order_id_)
        krw, btc = order.locked_remaining()
        end(order)
        portfolio = _portfolio_of(ledger, order)
        portfolio.release(order=order, krw=krw, btc=btc, reason=released_as, cause=cause)
        ledger.save(order, portfolio)

    ledger.retrying(attempt, what)


def _terms(ledger: Ledger, command: PlaceOrder) -> OrderTerms:
    return order_terms(
        parse_market(command.market, ledger.markets),
        parse_side(command.side),
        parse_type(command.order_type),
        at=command.cause.occurred_at,
        price_krw=command.price_krw,
        volume_btc=command.volume_btc,
        amount_krw=command.amount_krw,
        reference_price_krw=command.reference_price_krw,
    )


def _refuse_duplicates(ledger: Ledger, commands: Sequence[PlaceOrder]) -> None:
    for command in commands:
        existing = order_id(command.client_order_id.strip())
        if ledger.find(existing, Order) is not None:
            raise DuplicateOrderError(
                f"client order id {command.client_order_id!r} was already used by order "
                f"{existing}; every order needs its own client order id"
            )


def _portfolio_of(ledger: Ledger, order: Order) -> Portfolio:
    portfolio = get_portfolio(ledger)
    if portfolio is None:  # an order exists only where capital was allocated
        raise UnknownStrategyError(f"strategy {order.strategy_id!r} has no capital allocated")
    return portfolio
