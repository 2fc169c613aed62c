"""Invariants of the ledger under random command sequences (hypothesis; style S5.6).

A sequence mixes every command (limit and market bids and asks, accept, partial and complete
fills on the tick grid, repeated fills, cancel, reject) in any order, the illegal ones
included: those must raise a DomainError or NotFoundError and change nothing. After every
step the ledger must be in a legal state; after every fill cash and cost are conserved
exactly (Decimal), and no strategy ever spends more than it was given.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any
from uuid import UUID

from hypothesis import given, settings
from hypothesis import strategies as st

from commands.errors import NotFoundError
from commands.messages import PlaceOrder, RecordFill
from domain.errors import DomainError
from domain.ids import order_id
from domain.money import floor8
from domain.orders.order import Order
from domain.orders.status import OrderStatus
from domain.orders.terms import OrderSide
from domain.portfolio.ledger import Portfolio
from tests.builders import (
    MARKET,
    PRICE,
    accept_order,
    allocate_capital,
    cancel_order,
    fee,
    last_notification_id,
    place_limit_ask,
    place_limit_bid,
    place_market_ask,
    place_market_bid,
    record_fill,
    reject_order,
    trading_app,
)

D = Decimal
SATOSHI = D("0.00000001")
TICK = D(1000)
STRATEGIES = ("alpha", "beta")
SIX_STATUSES = set(OrderStatus)
STARTING_BTC = D("0.02")
UNKNOWN_ORDER = order_id("never-placed")
UNKNOWN_TARGET = 50
"""A step aimed at this target names an order that does not exist."""

# Weighted by repetition: fills and accepts are frequent, so orders get somewhere.
KINDS = ["fill"] * 6 + ["accept"] * 5 + ["place"] * 3 + ["cancel", "reject", "refill"]
RECENT = 4
"""Commands aim at one of the last few orders placed, as a strategy's would."""
PLACE_KINDS = ("limit_bid", "limit_ask", "market_bid", "market_ask")


@dataclass(frozen=True)
class Step:
    kind: str
    target: int
    """Which of the recent orders (counted back from the last), or which strategy (`place`)."""
    place_kind: str
    ticks: int
    """Price offset in ticks: from 50,000,000 KRW for new orders, from the limit for fills."""
    size: int
    """Sizes a new bid: 10,000 + size satoshis, or 4,990 KRW + size tenths of a KRW (a few
    fall below the 5,000 KRW minimum). An ask offers 1 to 4 quarters of the free BTC, by
    size % 4. A partial fill takes size % 1000 + 1 thousandths of what remains."""
    flag: bool
    """`place`: reuse the last client order id; `fill`: fill all that remains."""


steps = st.builds(
    Step,
    kind=st.sampled_from(KINDS),
    target=st.integers(0, UNKNOWN_TARGET),
    place_kind=st.sampled_from(PLACE_KINDS),
    ticks=st.integers(-2_000, 2_000),
    size=st.integers(0, 3_000_000),
    flag=st.booleans(),
)
capitals = st.tuples(st.integers(1_100_000, 5_000_000), st.integers(1_100_000, 5_000_000))
# A few placements first, so that most later steps find orders to work on.
sequences = st.tuples(
    st.lists(steps.map(lambda step: replace(step, kind="place")), min_size=2, max_size=5),
    st.lists(steps, min_size=10, max_size=50),
).map(lambda parts: parts[0] + parts[1])


@dataclass
class Books:
    """What the test itself saw happen, per strategy, to compare with the ledger."""

    allocated: dict[str, Decimal]
    bought_btc: dict[str, Decimal] = field(default_factory=lambda: defaultdict(D))
    sold_btc: dict[str, Decimal] = field(default_factory=lambda: defaultdict(D))
    bid_debits_krw: dict[str, Decimal] = field(default_factory=lambda: defaultdict(D))
    ask_proceeds_krw: dict[str, Decimal] = field(default_factory=lambda: defaultdict(D))
    recorded: list[RecordFill] = field(default_factory=list)


class Simulation:
    """Runs steps against a fresh Trading application, checking after each one."""

    def __init__(self, capital: tuple[int, int]) -> None:
        self.app = trading_app()
        self.books = Books(allocated={s: D(c) for s, c in zip(STRATEGIES, capital, strict=True)})
        self.order_ids: list[UUID] = []
        self.client_ids: list[str] = []
        self.minute = 0
        self.fills = 0
        for strategy, amount in self.books.allocated.items():
            self.app.allocate_capital(allocate_capital(amount, strategy_id=strategy))
            self.buy_starting_position(strategy)

    def buy_starting_position(self, strategy: str) -> None:
        """Given: each strategy starts holding 0.02 BTC, so asks have something to sell."""
        client_id = f"start-{strategy}"
        placed = self.app.place_order(
            place_limit_bid(client_id, volume_btc=STARTING_BTC, strategy_id=strategy)
        )
        self.app.accept_order(accept_order(placed))
        command = record_fill(placed, trade_id=f"{client_id}-t", qty_btc=STARTING_BTC)
        assert self.app.record_fill(command)
        self.order_ids.append(placed)
        self.client_ids.append(client_id)
        self.note_fill(self.app.get_order(placed), command)

    # Queries.
    def orders(self) -> list[Order]:
        return [self.app.get_order(oid) for oid in self.order_ids]

    def portfolio(self) -> Portfolio:
        portfolio = self.app.get_portfolio()
        assert portfolio is not None
        return portfolio

    def position_of(self, strategy: str) -> tuple[Decimal, Decimal, Decimal, Decimal]:
        position = self.app.get_position(strategy, MARKET)
        if position is None:
            return D(0), D(0), D(0), D(0)
        return (
            position.qty_btc,
            position.cost_basis_krw,
            position.realised_pnl_krw,
            position.fees_krw,
        )

    def fingerprint(self) -> Any:
        portfolio = self.portfolio()
        return (
            portfolio.books(),
            dict(portfolio.reserved_btc),
            dict(portfolio.daily_net_pnl_krw),
            [(order.describe(), dict(order.fills)) for order in self.orders()],
            [self.position_of(strategy) for strategy in STRATEGIES],
        )

    # Commands.
    def pick(self, target: int) -> UUID:
        if target == UNKNOWN_TARGET or not self.order_ids:
            return UNKNOWN_ORDER
        return self.order_ids[-1 - target % min(RECENT, len(self.order_ids))]

    def place(self, step: Step) -> Callable[[], Any]:
        strategy = STRATEGIES[step.target % len(STRATEGIES)]
        reuse = step.flag and step.target % 4 == 0
        client_id = self.client_ids[-1] if reuse else f"c-{self.minute}"
        price = PRICE + step.ticks * TICK
        volume = (10_000 + step.size) * SATOSHI
        if step.place_kind.endswith("ask"):
            volume = self.ask_volume(strategy, step.size)
        common: dict[str, Any] = {"strategy_id": strategy, "minute": self.minute}
        command: PlaceOrder
        if step.place_kind == "limit_bid":
            command = place_limit_bid(client_id, price_krw=price, volume_btc=volume, **common)
        elif step.place_kind == "limit_ask":
            command = place_limit_ask(client_id, price_krw=price, volume_btc=volume, **common)
        elif step.place_kind == "market_bid":
            command = place_market_bid(client_id, amount_krw=4_990 + D(step.size) / 10, **common)
        else:
            command = place_market_ask(
                client_id, volume_btc=volume, reference_price_krw=price, **common
            )

        def run() -> None:
            placed = self.app.place_order(command)
            self.order_ids.append(placed)
            self.client_ids.append(client_id)

        return run

    def ask_volume(self, strategy: str, size: int) -> Decimal:
        """Offer a share of the BTC held and not yet offered; now and then a satoshi more."""
        free = self.position_of(strategy)[0] - self.portfolio().reserved_btc_of(strategy, MARKET)
        if size % 13 == 1:
            return max(free, D(0)) + SATOSHI
        return max(floor8(free * (size % 4 + 1) / 4), SATOSHI)

    def fill(self, step: Step) -> Callable[[], Any]:
        oid = self.pick(step.target)
        if oid == UNKNOWN_ORDER:
            return lambda: self.app.record_fill(record_fill(oid, minute=self.minute))
        order = self.app.get_order(oid)
        offset = abs(step.ticks) * TICK
        if order.price_krw is None:  # a market order takes the book wherever it is
            price = PRICE + step.ticks * TICK
        elif order.side is OrderSide.BID:  # a limit bid fills at its limit or better
            price = max(TICK, order.price_krw - offset)
        else:
            price = order.price_krw + offset
        if order.amount_krw is not None:
            remaining = floor8((order.amount_krw - order.executed_funds_krw) / price)
        else:
            assert order.volume_btc is not None
            remaining = order.volume_btc - order.executed_volume_btc
        if step.flag:
            qty = remaining
        elif step.size % 13 == 1:  # now and then, one satoshi more than remains
            qty = remaining + SATOSHI
        else:
            qty = floor8(remaining * (step.size % 1000 + 1) / 1000)
        qty = max(qty, SATOSHI)
        command = record_fill(
            oid,
            trade_id=f"t-{self.minute}",
            price_krw=price,
            qty_btc=qty,
            fee_krw=fee(price, qty),
            minute=self.minute,
        )

        def run() -> None:
            assert self.app.record_fill(command) is True
            self.note_fill(order, command)

        return run

    def refill(self, step: Step) -> Callable[[], Any]:
        if not self.books.recorded:
            return lambda: None
        again = self.books.recorded[step.target % len(self.books.recorded)]

        def run() -> None:
            before = last_notification_id(self.app)
            assert self.app.record_fill(again) is False
            assert last_notification_id(self.app) == before

        return run

    def command(self, step: Step) -> Callable[[], Any]:
        oid = self.pick(step.target)
        minute = self.minute
        if step.kind == "place":
            return self.place(step)
        if step.kind == "fill":
            return self.fill(step)
        if step.kind == "refill":
            return self.refill(step)
        if step.kind == "accept":
            return lambda: self.app.accept_order(accept_order(oid, minute=minute))
        if step.kind == "cancel":
            return lambda: self.app.cancel_order(cancel_order(oid, minute=minute))
        return lambda: self.app.reject_order(reject_order(oid, minute=minute))

    def note_fill(self, order: Order, command: RecordFill) -> None:
        qty, price, fee_krw = D(command.qty_btc), D(command.price_krw), D(command.fee_krw)
        strategy = order.strategy_id
        if order.side is OrderSide.BID:
            self.books.bought_btc[strategy] += qty
            self.books.bid_debits_krw[strategy] += qty * price + fee_krw
        else:
            self.books.sold_btc[strategy] += qty
            self.books.ask_proceeds_krw[strategy] += qty * price - fee_krw
        self.books.recorded.append(command)
        self.fills += 1

    def run(self, sequence: list[Step], check: Callable[[Simulation], None]) -> None:
        for step in sequence:
            # 97 minutes a step: a sequence crosses sessions (09:00 KST) and trading days.
            self.minute += 97
            before_id = last_notification_id(self.app)
            before = self.fingerprint()
            run = self.command(step)
            try:
                run()
            except (DomainError, NotFoundError):
                # A refused command changes nothing: no event, no state.
                assert last_notification_id(self.app) == before_id
                assert self.fingerprint() == before
            check(self)


def check_legal_state(sim: Simulation) -> None:
    portfolio = sim.portfolio()
    locked_krw: dict[str, Decimal] = defaultdict(D)
    locked_btc: dict[str, Decimal] = defaultdict(D)
    executed: dict[str, Decimal] = defaultdict(D)
    for order in sim.orders():
        assert order.status in SIX_STATUSES
        assert order.executed_volume_btc >= 0
        if order.amount_krw is not None:
            assert order.executed_funds_krw <= order.amount_krw
        else:
            assert order.volume_btc is not None
            assert order.executed_volume_btc <= order.volume_btc
            if order.status is OrderStatus.FILLED:
                assert order.executed_volume_btc == order.volume_btc
        if order.status in (OrderStatus.NEW, OrderStatus.OPEN, OrderStatus.FAILED):
            assert order.fills == {} and order.executed_volume_btc == 0
        if order.status is OrderStatus.PARTIAL:
            assert order.fills and order.executed_volume_btc > 0
        krw, btc = order.locked_remaining()
        assert krw >= 0 and btc >= 0
        locked_krw[order.strategy_id] += krw
        locked_btc[order.strategy_id] += btc
        sign = 1 if order.side is OrderSide.BID else -1
        executed[order.strategy_id] += sign * order.executed_volume_btc
    for strategy in STRATEGIES:
        book = portfolio.book(strategy)
        assert book.cash_krw >= 0
        assert book.reserved_krw >= 0
        assert book.reserved_krw == locked_krw[strategy]
        reserved_btc = portfolio.reserved_btc_of(strategy, MARKET)
        assert reserved_btc >= 0
        assert reserved_btc == locked_btc[strategy]
        qty = sim.position_of(strategy)[0]
        assert qty >= 0
        assert qty == sim.books.bought_btc[strategy] - sim.books.sold_btc[strategy]
        assert qty == executed[strategy]


def check_conservation(sim: Simulation) -> None:
    portfolio = sim.portfolio()
    for strategy in STRATEGIES:
        book = portfolio.book(strategy)
        _, cost_basis, realised, fees = sim.position_of(strategy)
        assert book.cash_krw + cost_basis == (
            book.allocated_krw + book.realised_pnl_krw - book.fees_krw
        )
        assert (realised, fees) == (book.realised_pnl_krw, book.fees_krw)


def check_spending(sim: Simulation) -> None:
    portfolio = sim.portfolio()
    net_pnl = D(0)
    for strategy in STRATEGIES:
        book = portfolio.book(strategy)
        debits = sim.books.bid_debits_krw[strategy]
        proceeds = sim.books.ask_proceeds_krw[strategy]
        assert book.allocated_krw == sim.books.allocated[strategy]
        assert debits <= book.allocated_krw + proceeds
        assert book.cash_krw == book.allocated_krw - debits + proceeds
        assert book.cash_krw >= 0
        net_pnl += book.realised_pnl_krw - book.fees_krw
    assert net_pnl == sum(portfolio.daily_net_pnl_krw.values(), D(0))


PROPERTY_SETTINGS = settings(max_examples=400, deadline=None, derandomize=True, database=None)
"""One simulation checks every invariant after every step: 400 sequences for each invariant
(three tests of 200 sequences each, one invariant apiece, cost half as much again)."""


def check_every_invariant(sim: Simulation) -> None:
    check_legal_state(sim)
    check_conservation(sim)
    check_spending(sim)


@PROPERTY_SETTINGS
@given(capital=capitals, sequence=sequences)
def test_random_command_sequences_stay_legal_conserve_cash_plus_cost_and_never_overspend(
    capital: tuple[int, int], sequence: list[Step]
) -> None:
    # After every step: a legal state; cash plus cost basis conserved per strategy; no
    # strategy spends more than it was given, and the P&L adds up to the account's.
    Simulation(capital).run(sequence, check_every_invariant)
