"""The Trading application: one event log (`ledger_events`) and the ledger's use cases.

Each use case loads the aggregates it needs, lets them decide (a refusal raises a domain error
and appends nothing), and saves every new event of the command in one transaction. A lost
optimistic-concurrency race is retried a bounded number of times on freshly loaded state.
The log's plumbing is in `commands.ledger_log`; candle ingestion in `commands.candle_ingestion`;
runs of the strategies in `commands.run_records`; limit breaches in `commands.risk_monitoring`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from commands.candle_ingestion import CandleIngestReport
from commands.errors import UnknownOrderError
from commands.ledger_log import DEFAULT_CONFLICT_RETRIES, register_event_topics
from commands.messages import (
    AcceptOrder,
    AllocateCapital,
    CancelOrder,
    PlaceOrder,
    RecordFill,
    RecordSubmissionFailure,
    RejectOrder,
)
from commands.reconciliation_records import ReconciliationRecords
from domain.candles.candle_hour import CandleHour
from domain.constants import DEFAULT_FEE_RATE
from domain.errors import (
    DomainError,
    DuplicateOrderError,
    RiskError,
    UnknownStrategyError,
)
from domain.ids import order_id, portfolio_id, position_id
from domain.market import DEFAULT_MARKETS, parse_market
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
from domain.risk.limits import Limits, RiskLimits, TradingState
from domain.risk.rules import PRE_TRADE_DENIALS, OrderRiskContext, check_order
from domain.sessions import trading_day

__all__ = ["CandleIngestReport", "OrderPlacement", "Trading", "register_event_topics"]


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


class Trading(ReconciliationRecords):
    """The ledger's write side: orders, positions, the cash ledger and risk limits."""

    name = "Ledger"  # names the tables (ledger_events); never derived from the class name
    snapshotting_intervals = {
        Order: 100,
        Position: 100,
        Portfolio: 100,
        RiskLimits: 100,
        CandleHour: 30,
    }

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        account: str = "main",
        markets: frozenset[str] = DEFAULT_MARKETS,
        fee_rate: Decimal = DEFAULT_FEE_RATE,
        conflict_retries: int = DEFAULT_CONFLICT_RETRIES,
    ) -> None:
        if not isinstance(fee_rate, Decimal) or not Decimal(0) <= fee_rate < Decimal("0.01"):
            raise ValueError(f"fee rate {fee_rate!r} must be a Decimal in [0, 0.01)")
        self.markets = markets
        self.fee_rate = fee_rate
        super().__init__(env, account=account, conflict_retries=conflict_retries)

    # Queries of the write model.
    def get_order(self, order_id_: UUID) -> Order:
        """Return the order with this id.

        Raises:
            UnknownOrderError: no order has this id.
        """
        order = self._find(order_id_, Order)
        if order is None:
            raise UnknownOrderError(f"order {order_id_} does not exist")
        return order

    def get_portfolio(self) -> Portfolio | None:
        """Return the account's cash ledger, or None before any capital was allocated."""
        return self._find(portfolio_id(self.account), Portfolio)

    def get_position(self, strategy_id: str, market: str) -> Position | None:
        """Return a strategy's position in a market, or None before its first fill."""
        return self._find(position_id(self.account, strategy_id, market), Position)

    # Commands.
    def allocate_capital(self, command: AllocateCapital) -> None:
        """Allocate KRW capital to a strategy (opening the account's ledger if needed)."""

        def attempt() -> None:
            portfolio = self.get_portfolio()
            risk = None
            if portfolio is None:  # the account opens with its ledger and its risk record
                portfolio = Portfolio.open(account=self.account, cause=command.cause)
                risk = self._risk_or_new(command.cause)
            portfolio.allocate(command.strategy_id, command.amount_krw, command.cause)
            self.save(portfolio, risk)

        self._retrying(attempt, "allocate capital")

    def place_order(self, command: PlaceOrder) -> UUID:
        """Place one order; return its id (uuid5 of its client order id).

        Raises:
            DomainError: a value, order, ledger or risk rule refuses the order.
        """
        return self.place_orders([command])[0]

    def place_operator_order(self, command: PlaceOrder) -> UUID:
        """Place an order a person typed (CLI, API), as `place_order` does.

        A market bid's amount must be a whole number of KRW here (a strategy's sized amount
        is kept exactly).

        Raises:
            DomainError: a value, order, ledger or risk rule refuses the order.
        """
        if command.amount_krw is not None:
            whole_krw(command.amount_krw, "amount")
        return self.place_order(command)

    def place_orders(self, commands: Sequence[PlaceOrder]) -> list[UUID]:
        """Place several orders in one transaction: all are recorded, or none is."""

        def attempt() -> list[UUID]:
            try:
                return self._place(commands)
            except (IntegrityError, DomainError):
                # An order id already in the log surfaces as a write conflict, or earlier as
                # a refusal (its cash is already locked): only then is a look-up per order
                # worth it, and a duplicate is the answer the caller needs.
                self._refuse_duplicates(commands)
                raise

        return self._retrying(attempt, f"place {len(commands)} order(s)")

    def place_strategy_order(self, command: PlaceOrder) -> OrderPlacement:
        """Place a strategy's order; record a refusal by a pre-trade risk rule, not raise it.

        A denied order (HALTED, REDUCING and a bid, per-order notional, exposure, daily loss,
        submit rate) is recorded as `order.placed`, locking nothing, then `order.rejected` by
        `risk` with the reason `<code>: <message>` (the code is the broken rule's, e.g.
        `trading_halted`), in one transaction; the cash ledger is untouched. Orders of
        operators (`place_order`) are refused instead, appending nothing.

        Raises:
            DomainError: a value, order or ledger rule refuses the order; nothing is recorded.
        """

        def attempt() -> OrderPlacement:
            try:
                try:
                    return OrderPlacement(self._place([command])[0])
                except PRE_TRADE_DENIALS as denial:
                    return self._record_denial(command, denial)
            except (IntegrityError, DomainError):
                self._refuse_duplicates([command])
                raise

        return self._retrying(attempt, "place a strategy order")

    def _record_denial(self, command: PlaceOrder, denial: RiskError) -> OrderPlacement:
        order = Order.place(
            client_order_id=command.client_order_id,
            strategy_id=command.strategy_id,
            terms=self._terms(command),
            locked=(Decimal(0), Decimal(0)),
            cause=command.cause,
        )
        order.reject(f"{denial.code}: {denial}", "risk", command.cause)
        self.save(order)
        return OrderPlacement(order.order_id, denial)

    def _terms(self, command: PlaceOrder) -> OrderTerms:
        return order_terms(
            parse_market(command.market, self.markets),
            parse_side(command.side),
            parse_type(command.order_type),
            at=command.cause.occurred_at,
            price_krw=command.price_krw,
            volume_btc=command.volume_btc,
            amount_krw=command.amount_krw,
            reference_price_krw=command.reference_price_krw,
        )

    def _refuse_duplicates(self, commands: Sequence[PlaceOrder]) -> None:
        for command in commands:
            existing = order_id(command.client_order_id.strip())
            if self._find(existing, Order) is not None:
                raise DuplicateOrderError(
                    f"client order id {command.client_order_id!r} was already used by order "
                    f"{existing}; every order needs its own client order id"
                )

    def _place(self, commands: Sequence[PlaceOrder], *, risk_checked: bool = True) -> list[UUID]:
        # risk_checked=False: the pre-trade risk rules were applied by whoever decided (a
        # trading run, on its own view of the account); the ledger rules still apply.
        portfolio = self.get_portfolio()
        risk = self.get_risk_limits()
        state = risk.state if risk is not None else TradingState.ACTIVE
        limits = risk.limits if risk is not None else Limits()
        orders: list[Order] = []
        new_ids: set[UUID] = set()
        positions: dict[UUID, Position | None] = {}
        for command in commands:
            at = command.cause.occurred_at
            terms = self._terms(command)
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
                pid = position_id(self.account, command.strategy_id, terms.market.code)
                if pid not in positions:
                    positions[pid] = self._find(pid, Position)
                position = positions[pid]
            if risk_checked:
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
                fee_rate=self.fee_rate,
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
        self.save(portfolio, *orders)
        return [order.order_id for order in orders]

    def accept_order(self, command: AcceptOrder) -> None:
        """Record the exchange's acknowledgement of an order (NEW -> OPEN)."""

        def attempt() -> None:
            order = self.get_order(command.order_id)
            order.accept(command.exchange_order_id, command.cause)
            self.save(order)

        self._retrying(attempt, f"accept order {command.order_id}")

    def record_fill(self, command: RecordFill) -> bool:
        """Record a fill in the order, its position and the cash ledger, atomically.

        Return False when the trade id was already recorded with the same figures.
        """

        def attempt() -> bool:
            order = self.get_order(command.order_id)
            locked_before = order.locked_remaining()
            fill = order.record_fill(
                trade_id=command.trade_id,
                price_krw=command.price_krw,
                qty_btc=command.qty_btc,
                fee_krw=command.fee_krw,
                cause=command.cause,
                fee_rate=self.fee_rate,
            )
            if fill is None:
                return False
            locked_after = order.locked_remaining()
            position = self.get_position(order.strategy_id, order.market) or Position.open(
                account=self.account,
                strategy_id=order.strategy_id,
                market=order.market,
                cause=command.cause,
            )
            realised = position.apply_fill(
                order_id=str(order.id), side=order.side, fill=fill, cause=command.cause
            )
            portfolio = self._portfolio_of(order)
            portfolio.settle_fill(
                order=order,
                fill=fill,
                released_krw=locked_before[0] - locked_after[0],
                released_btc=locked_before[1] - locked_after[1],
                realised_pnl_krw=realised,
                cause=command.cause,
            )
            self.save(order, position, portfolio)
            return True

        return self._retrying(attempt, f"record fill {command.trade_id}")

    def cancel_order(self, command: CancelOrder) -> None:
        """Cancel an order's unfilled remainder and release what it still locks."""

        def attempt() -> None:
            order = self.get_order(command.order_id)
            krw, btc = order.locked_remaining()
            order.cancel(command.reason, command.cause)
            portfolio = self._portfolio_of(order)
            portfolio.release(
                order=order, krw=krw, btc=btc, reason="cancelled", cause=command.cause
            )
            self.save(order, portfolio)

        self._retrying(attempt, f"cancel order {command.order_id}")

    def reject_order(self, command: RejectOrder) -> None:
        """Record that an order was refused (NEW -> FAILED) and release its lock."""

        def attempt() -> None:
            order = self.get_order(command.order_id)
            krw, btc = order.locked_remaining()
            order.reject(command.reason, command.rejected_by, command.cause)
            portfolio = self._portfolio_of(order)
            portfolio.release(order=order, krw=krw, btc=btc, reason="rejected", cause=command.cause)
            self.save(order, portfolio)

        self._retrying(attempt, f"reject order {command.order_id}")

    def record_submission_failure(self, command: RecordSubmissionFailure) -> None:
        """Record that sending an order got no answer; it stays NEW."""

        def attempt() -> None:
            order = self.get_order(command.order_id)
            order.record_submission_failure(command.reason, command.cause)
            self.save(order)

        self._retrying(attempt, f"record submission failure of order {command.order_id}")

    # Plumbing.
    def _portfolio_of(self, order: Order) -> Portfolio:
        portfolio = self.get_portfolio()
        if portfolio is None:  # an order exists only where capital was allocated
            raise UnknownStrategyError(f"strategy {order.strategy_id!r} has no capital allocated")
        return portfolio
