"""The ledger as a trading run writes it: every command of a run may be given again.

A run is crash-only (style S4.6): after any stop it re-processes its candles from its first
one, and every command it gives is skipped when the log already holds its outcome. Signal and
order ids are uuid5 of their cause, and fills are idempotent by trade id, so a command given
again is recognised by its ids alone; the re-processed run appends exactly the events the
interrupted one had not.
"""

from __future__ import annotations

from uuid import UUID

from commands.messages import AcceptOrder, CancelOrder, PlaceOrder, RecordSignal, RejectOrder
from commands.trading import OrderPlacement, Trading
from domain.ids import order_id
from domain.orders.order import Order
from domain.orders.status import OrderStatus
from domain.strategies.signal import Signal, signal_id


class ResumableTrading(Trading):
    """Trading whose run commands are skipped when their outcome is already in the log."""

    name = "Ledger"  # the same log (ledger_events): a subclass would get a name of its own

    def record_signal(self, command: RecordSignal) -> UUID:
        """Record the signal unless it is recorded; return its id."""
        existing = signal_id(
            command.run_id, command.strategy_id, command.candle_open_time, command.rank
        )
        if self._find(existing, Signal) is not None:
            return existing
        return super().record_signal(command)

    def place_order(self, command: PlaceOrder) -> UUID:
        """Place the order unless it was placed; return its id."""
        existing = order_id(command.client_order_id.strip())
        if self._find(existing, Order) is not None:
            return existing
        return super().place_order(command)

    def place_strategy_order(self, command: PlaceOrder) -> OrderPlacement:
        """Place (or record the denial of) a strategy's order unless the log holds it."""
        existing = order_id(command.client_order_id.strip())
        if self._find(existing, Order) is not None:
            return OrderPlacement(existing)
        return super().place_strategy_order(command)

    def accept_order(self, command: AcceptOrder) -> None:
        """Record the acknowledgement unless the order is past NEW."""
        if self.get_order(command.order_id).status is OrderStatus.NEW:
            super().accept_order(command)

    def reject_order(self, command: RejectOrder) -> None:
        """Record the refusal unless the order is already FAILED."""
        if self.get_order(command.order_id).status is not OrderStatus.FAILED:
            super().reject_order(command)

    def cancel_order(self, command: CancelOrder) -> None:
        """Record the cancel unless the order is already CANCELLED."""
        if self.get_order(command.order_id).status is not OrderStatus.CANCELLED:
            super().cancel_order(command)
