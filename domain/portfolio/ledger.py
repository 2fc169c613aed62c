"""The Portfolio aggregate: the account's cash ledger, kept per strategy.

Capital is allocated per strategy; an open bid locks KRW (limit: qty x price x (1 + fee
rate), strategies.md clarification 4), an open ask locks BTC; a fill settles cash and
releases the part of the lock it used; cancel, reject and completion release the rest. The
lock of each order is recorded on the order itself (like Upbit's `locked`), so this ledger
keeps only totals per strategy and stays small however many orders are open.
Every fill is attributed to exactly one strategy, so per-strategy P&L adds up to the account's.
It also keeps the domain times of the account's placements within the submit-rate window (each
reservation is a placement the ledger accepted), which the submit-rate rule counts.
"""

from __future__ import annotations

from bisect import bisect_right, insort
from copy import deepcopy
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from eventsourcing.domain import Aggregate

from domain.errors import InsufficientCashError, InsufficientPositionError, UnknownStrategyError
from domain.events import (
    Cause,
    LedgerCreated,
    LedgerEvent,
    create_aggregate,
    require_id,
    require_text,
)
from domain.ids import portfolio_id
from domain.money import whole_krw
from domain.orders.fill import Fill
from domain.orders.order import Order
from domain.orders.terms import OrderSide, OrderTerms
from domain.risk.limits import SUBMIT_RATE_WINDOW
from domain.sessions import trading_day

ZERO = Decimal(0)
ROUNDING_DUST_KRW = Decimal("0.00000001")
"""A market bid sized as available / (1 + fee rate) may exceed the cash by 28-digit rounding
dust when its fee is added back; strategies.md clarification 4 says not to refuse it."""


@dataclass(frozen=True)
class StrategyCash:
    """One strategy's cash figures in the account's ledger.

    What a strategy decides on is `domain.strategies.base.StrategyBook`, built from these and
    its position.
    """

    strategy_id: str
    allocated_krw: Decimal
    cash_krw: Decimal
    reserved_krw: Decimal
    realised_pnl_krw: Decimal
    fees_krw: Decimal

    @property
    def available_krw(self) -> Decimal:
        """Return the cash not reserved by open bids."""
        return self.cash_krw - self.reserved_krw


class Portfolio(Aggregate):
    """The cash ledger of one account.

    Version 2 keeps `recent_placements`; a snapshot taken by version 1 reads as one with none
    (at most one minute of placements before the upgrade goes uncounted).
    """

    class_version = 2

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        """Read a version 1 snapshot as a ledger with no recent placements."""
        state["recent_placements"] = []

    class Opened(LedgerCreated):
        """The account's ledger was opened."""

        TOPIC = "ledger.portfolio.opened"
        account: str

        def apply(self, ledger: Portfolio) -> None:
            """Evolve the ledger's state by this event."""
            ledger.account = self.account
            ledger.allocated_krw = {}
            ledger.cash_krw = {}
            ledger.reserved_krw = {}
            ledger.reserved_btc = {}
            ledger.realised_pnl_krw = {}
            ledger.fees_krw = {}
            ledger.daily_net_pnl_krw = {}
            ledger.recent_placements = []

    class CapitalAllocated(LedgerEvent):
        """KRW capital was allocated to a strategy."""

        TOPIC = "ledger.capital.allocated"
        strategy_id: str
        amount_krw: Decimal

        def apply(self, ledger: Portfolio) -> None:
            """Evolve the ledger's state by this event."""
            s = self.strategy_id
            ledger.allocated_krw[s] = ledger.allocated_krw.get(s, ZERO) + self.amount_krw
            ledger.cash_krw[s] = ledger.cash_krw.get(s, ZERO) + self.amount_krw
            ledger.reserved_krw.setdefault(s, ZERO)
            ledger.realised_pnl_krw.setdefault(s, ZERO)
            ledger.fees_krw.setdefault(s, ZERO)

    class CashReserved(LedgerEvent):
        """A new order locked KRW (bid) or BTC (ask) of its strategy."""

        TOPIC = "ledger.cash.reserved"
        order_id: str
        strategy_id: str
        market: str
        krw: Decimal
        btc: Decimal

        def apply(self, ledger: Portfolio) -> None:
            """Evolve the ledger's state by this event."""
            ledger._shift_reserved(self.strategy_id, self.market, self.krw, self.btc)
            ledger._note_placement(self.occurred_at)

    class FillSettled(LedgerEvent):
        """A fill moved cash and released its share of the order's lock."""

        TOPIC = "ledger.fill.settled"
        order_id: str
        trade_id: str
        strategy_id: str
        market: str
        side: str
        cash_delta_krw: Decimal
        fee_krw: Decimal
        realised_pnl_krw: Decimal
        released_krw: Decimal
        released_btc: Decimal
        trading_day: str

        def apply(self, ledger: Portfolio) -> None:
            """Evolve the ledger's state by this event."""
            s = self.strategy_id
            ledger.cash_krw[s] += self.cash_delta_krw
            ledger.realised_pnl_krw[s] += self.realised_pnl_krw
            ledger.fees_krw[s] += self.fee_krw
            day = self.trading_day
            net = self.realised_pnl_krw - self.fee_krw
            ledger.daily_net_pnl_krw[day] = ledger.daily_net_pnl_krw.get(day, ZERO) + net
            ledger._shift_reserved(s, self.market, -self.released_krw, -self.released_btc)

    class ReservationReleased(LedgerEvent):
        """An order ended (filled, cancelled, rejected): the rest of its lock is free again."""

        TOPIC = "ledger.reservation.released"
        order_id: str
        strategy_id: str
        market: str
        krw: Decimal
        btc: Decimal
        reason: str

        def apply(self, ledger: Portfolio) -> None:
            """Evolve the ledger's state by this event."""
            ledger._shift_reserved(self.strategy_id, self.market, -self.krw, -self.btc)

    account: str
    allocated_krw: dict[str, Decimal]
    cash_krw: dict[str, Decimal]
    reserved_krw: dict[str, Decimal]
    reserved_btc: dict[str, Decimal]
    realised_pnl_krw: dict[str, Decimal]
    fees_krw: dict[str, Decimal]
    daily_net_pnl_krw: dict[str, Decimal]
    recent_placements: list[datetime]
    """Domain times of the placements within `SUBMIT_RATE_WINDOW` of the newest, oldest first."""

    def __init__(self) -> None:
        """State is set by the Opened event; see `open`."""

    def __deepcopy__(self, memo: dict[int, Any]) -> Portfolio:
        """Copy deeply, but for the placements' list, copied shallowly: a datetime never changes.

        The aggregate cache hands out a deep copy at every read, and a busy minute holds
        thousands of placements that `copy.deepcopy` would otherwise rebuild one by one.
        """
        copied = object.__new__(type(self))
        memo[id(self)] = copied
        for name, value in vars(self).items():
            is_placements = name == "recent_placements"
            vars(copied)[name] = list(value) if is_placements else deepcopy(value, memo)
        return copied

    @classmethod
    def open(cls, *, account: str, cause: Cause) -> Portfolio:
        """Open the cash ledger of an account."""
        name = require_text(account, "account")
        return create_aggregate(
            cls, cls.Opened, id=portfolio_id(name), account=name, **cause.event_fields()
        )

    # Evolve helpers: called only from the events' apply methods.
    def _shift_reserved(self, strategy_id: str, market: str, krw: Decimal, btc: Decimal) -> None:
        self.reserved_krw[strategy_id] = self.reserved_krw.get(strategy_id, ZERO) + krw
        key = f"{strategy_id}|{market}"
        self.reserved_btc[key] = self.reserved_btc.get(key, ZERO) + btc

    def _note_placement(self, at: datetime) -> None:
        # Kept sorted and trimmed to the window before the newest placement, in place: a
        # burst of thousands of orders in one minute costs a binary search each, not a sort.
        placements = self.recent_placements
        insort(placements, at)
        del placements[: bisect_right(placements, placements[-1] - SUBMIT_RATE_WINDOW)]

    # Queries.
    def book(self, strategy_id: str) -> StrategyCash:
        """Return the cash figures of a strategy.

        Raises:
            UnknownStrategyError: no capital was ever allocated to the strategy.
        """
        if strategy_id not in self.allocated_krw:
            known = ", ".join(sorted(self.allocated_krw)) or "none"
            raise UnknownStrategyError(
                f"strategy {strategy_id!r} has no capital allocated; allocate capital first "
                f"(strategies with capital: {known})"
            )
        return StrategyCash(
            strategy_id=strategy_id,
            allocated_krw=self.allocated_krw[strategy_id],
            cash_krw=self.cash_krw[strategy_id],
            reserved_krw=self.reserved_krw[strategy_id],
            realised_pnl_krw=self.realised_pnl_krw[strategy_id],
            fees_krw=self.fees_krw[strategy_id],
        )

    def books(self) -> list[StrategyCash]:
        """Return the books of every strategy, by strategy id."""
        return [self.book(s) for s in sorted(self.allocated_krw)]

    def reserved_btc_of(self, strategy_id: str, market: str) -> Decimal:
        """Return the BTC reserved by the strategy's open asks in the market."""
        return self.reserved_btc.get(f"{strategy_id}|{market}", ZERO)

    def orders_placed_within(self, at: datetime) -> int:
        """Return how many orders the account placed in the `SUBMIT_RATE_WINDOW` before `at`.

        The window is (at - window, at] in domain time; a placement dated later than `at`
        counts too (domain time moves forward: it cannot be older than the window).
        """
        placements = self.recent_placements
        return len(placements) - bisect_right(placements, at - SUBMIT_RATE_WINDOW)

    def daily_net_pnl(self, day: str) -> Decimal:
        """Return the account's realised P&L net of fees on a trading day (ISO date)."""
        return self.daily_net_pnl_krw.get(day, ZERO)

    # Commands.
    def allocate(self, strategy_id: str, amount_krw: object, cause: Cause) -> None:
        """Allocate KRW capital to a strategy.

        Raises:
            InvalidAmountError: the amount is not a positive whole number of KRW.
            MissingTextError: the strategy id is blank or longer than 64 characters.
        """
        self.trigger_event(
            self.CapitalAllocated,
            strategy_id=require_id(strategy_id, "strategy id"),
            amount_krw=whole_krw(amount_krw, "capital"),
            **cause.event_fields(),
        )

    def reserve(
        self,
        *,
        order_id: str,
        strategy_id: str,
        terms: OrderTerms,
        fee_rate: Decimal,
        held_btc: Decimal,
        cause: Cause,
    ) -> tuple[Decimal, Decimal]:
        """Lock what a new order may spend, KRW for a bid or BTC for an ask; return (krw, btc).

        A limit bid locks qty x price x (1 + fee rate) (clarification 4); a market bid locks
        amount x (1 + fee rate), like Upbit, and is refused when that exceeds the available
        cash by more than rounding dust (the lock is then capped at the available cash).

        Raises:
            UnknownStrategyError: the strategy has no capital.
            InsufficientCashError: a bid's cost with fee exceeds the available cash.
            InsufficientPositionError: an ask sells more BTC than is held and not yet offered.
        """
        book = self.book(strategy_id)
        krw = btc = ZERO
        if terms.side is OrderSide.BID:
            if terms.amount_krw is not None:
                krw = terms.amount_krw * (1 + fee_rate)
                if krw - book.available_krw > ROUNDING_DUST_KRW:
                    raise InsufficientCashError(
                        f"market bid of {terms.amount_krw:,} KRW costs {krw:,} KRW with its "
                        f"{fee_rate} fee, more than strategy {strategy_id}'s available cash "
                        f"{book.available_krw:,} KRW"
                    )
                krw = min(krw, book.available_krw)
            else:
                assert terms.price_krw is not None and terms.volume_btc is not None
                krw = terms.volume_btc * terms.price_krw * (1 + fee_rate)
                if krw > book.available_krw:
                    raise InsufficientCashError(
                        f"limit bid costs {krw:,} KRW with its {fee_rate} fee, more than strategy "
                        f"{strategy_id}'s available cash {book.available_krw:,} KRW"
                    )
        else:
            assert terms.volume_btc is not None
            btc = terms.volume_btc
            free = held_btc - self.reserved_btc_of(strategy_id, terms.market.code)
            if btc > free:
                raise InsufficientPositionError(
                    f"ask of {btc} BTC exceeds the {free} BTC of {terms.market.code} that "
                    f"strategy {strategy_id} holds and has not already offered"
                )
        self.trigger_event(
            self.CashReserved,
            order_id=order_id,
            strategy_id=strategy_id,
            market=terms.market.code,
            krw=krw,
            btc=btc,
            **cause.event_fields(),
        )
        return krw, btc

    def settle_fill(
        self,
        *,
        order: Order,
        fill: Fill,
        released_krw: Decimal,
        released_btc: Decimal,
        realised_pnl_krw: Decimal,
        cause: Cause,
    ) -> None:
        """Move the cash of a fill of `order` and release the part of its lock it used.

        Raises:
            InsufficientCashError: a bid fill would take the strategy's cash below zero.
        """
        strategy_id = order.strategy_id
        if order.side is OrderSide.BID:
            cash_delta = -(fill.funds_krw + fill.fee_krw)
            if self.book(strategy_id).cash_krw + cash_delta < 0:
                raise InsufficientCashError(
                    f"bid fill {fill.trade_id} costs {-cash_delta:,} KRW, more than strategy "
                    f"{strategy_id}'s cash {self.cash_krw[strategy_id]:,} KRW"
                )
        else:
            cash_delta = fill.funds_krw - fill.fee_krw
        self.trigger_event(
            self.FillSettled,
            order_id=str(order.id),
            trade_id=fill.trade_id,
            strategy_id=strategy_id,
            market=order.market,
            side=order.side.value,
            cash_delta_krw=cash_delta,
            fee_krw=fill.fee_krw,
            realised_pnl_krw=realised_pnl_krw,
            released_krw=released_krw,
            released_btc=released_btc,
            trading_day=trading_day(cause.occurred_at).isoformat(),
            **cause.event_fields(),
        )

    def release(
        self, *, order: Order, krw: Decimal, btc: Decimal, reason: str, cause: Cause
    ) -> None:
        """Release what an ended order still locked (nothing to do when it locked nothing)."""
        if not krw and not btc:
            return
        self.trigger_event(
            self.ReservationReleased,
            order_id=str(order.id),
            strategy_id=order.strategy_id,
            market=order.market,
            krw=krw,
            btc=btc,
            reason=reason,
            **cause.event_fields(),
        )
