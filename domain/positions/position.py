"""The Position aggregate: quantity, cost basis at average cost, realised P&L and fees.

Changes only by fills. A bid fill adds its quantity and its funds (q x p) to the cost basis;
an ask fill releases cost at the average cost, and realises `q x p - released cost`. Fees are
kept apart, so `cash + cost basis == allocated + realised P&L - fees` holds after every fill.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

from eventsourcing.domain import Aggregate

from domain.errors import InsufficientPositionError
from domain.events import Cause, LedgerCreated, LedgerEvent, create_aggregate
from domain.ids import position_id
from domain.orders.fill import Fill
from domain.orders.terms import OrderSide

COST_QUANTUM = Decimal("0.00000001")
"""Cost released by a partial sale is rounded half-even to 1e-8 KRW; a full sale releases all."""


class Position(Aggregate):
    """The holding of one strategy in one market."""

    class Opened(LedgerCreated):
        """The strategy's first fill in this market opened its position record."""

        TOPIC = "position.opened"
        account: str
        strategy_id: str
        market: str

        def apply(self, position: Position) -> None:
            """Evolve the position's state by this event."""
            position.account = self.account
            position.strategy_id = self.strategy_id
            position.market = self.market
            position.qty_btc = Decimal(0)
            position.cost_basis_krw = Decimal(0)
            position.realised_pnl_krw = Decimal(0)
            position.fees_krw = Decimal(0)

    class Changed(LedgerEvent):
        """A fill changed the position; the event carries the fill and the state after it."""

        TOPIC = "position.changed"
        order_id: str
        trade_id: str
        side: str
        price_krw: Decimal
        qty_btc: Decimal
        fee_krw: Decimal
        cost_released_krw: Decimal
        realised_pnl_krw: Decimal
        qty_after_btc: Decimal
        cost_basis_after_krw: Decimal

        def apply(self, position: Position) -> None:
            """Evolve the position's state by this event."""
            position.qty_btc = self.qty_after_btc
            position.cost_basis_krw = self.cost_basis_after_krw
            position.realised_pnl_krw += self.realised_pnl_krw
            position.fees_krw += self.fee_krw

    class Closed(LedgerEvent):
        """A fill brought the quantity back to zero; the round trip is over."""

        TOPIC = "position.closed"
        realised_pnl_total_krw: Decimal
        fees_total_krw: Decimal

        def apply(self, position: Position) -> None:
            """Nothing to assign: Changed already brought the quantity to zero."""

    account: str
    strategy_id: str
    market: str
    qty_btc: Decimal
    cost_basis_krw: Decimal
    realised_pnl_krw: Decimal
    fees_krw: Decimal

    def __init__(self) -> None:
        """State is set by the Opened event; see `open`."""

    @classmethod
    def open(cls, *, account: str, strategy_id: str, market: str, cause: Cause) -> Position:
        """Open the (empty) position record of an account's strategy in a market."""
        return create_aggregate(
            cls,
            cls.Opened,
            id=position_id(account, strategy_id, market),
            account=account,
            strategy_id=strategy_id,
            market=market,
            **cause.event_fields(),
        )

    @property
    def average_cost_krw(self) -> Decimal | None:
        """Return the average cost per BTC held, or None when flat."""
        return self.cost_basis_krw / self.qty_btc if self.qty_btc else None

    def apply_fill(self, *, order_id: str, side: OrderSide, fill: Fill, cause: Cause) -> Decimal:
        """Change the position by one fill; return the P&L it realised (before fees).

        Raises:
            InsufficientPositionError: an ask fill sells more than the position holds.
        """
        if side is OrderSide.BID:
            qty_after = self.qty_btc + fill.qty_btc
            cost_released = Decimal(0)
            cost_after = self.cost_basis_krw + fill.funds_krw
            realised = Decimal(0)
        else:
            if fill.qty_btc > self.qty_btc:
                raise InsufficientPositionError(
                    f"fill {fill.trade_id} sells {fill.qty_btc} BTC but strategy "
                    f"{self.strategy_id} holds {self.qty_btc} BTC of {self.market}"
                )
            qty_after = self.qty_btc - fill.qty_btc
            if qty_after == 0:
                cost_released = self.cost_basis_krw
            else:
                share = self.cost_basis_krw * fill.qty_btc / self.qty_btc
                cost_released = share.quantize(COST_QUANTUM, rounding=ROUND_HALF_EVEN)
            cost_after = self.cost_basis_krw - cost_released
            realised = fill.funds_krw - cost_released
        self.trigger_event(
            self.Changed,
            order_id=order_id,
            trade_id=fill.trade_id,
            side=side.value,
            price_krw=fill.price_krw,
            qty_btc=fill.qty_btc,
            fee_krw=fill.fee_krw,
            cost_released_krw=cost_released,
            realised_pnl_krw=realised,
            qty_after_btc=qty_after,
            cost_basis_after_krw=cost_after,
            **cause.event_fields(),
        )
        if qty_after == 0 and side is OrderSide.ASK:
            self.trigger_event(
                self.Closed,
                realised_pnl_total_krw=self.realised_pnl_krw,
                fees_total_krw=self.fees_krw,
                **cause.event_fields(),
            )
        return realised
