"""The ledger as a trading run writes it: every command of a run may be given again.

A run is crash-only (style S4.6): after any stop it re-processes its candles from its first
one, and every command it gives is skipped when the log already holds its outcome. Signal and
order ids are uuid5 of their cause, and fills are idempotent by trade id, so a command given
again is recognised by its ids alone; a change of the risk record is recognised by its cause
(time, actor, causation and correlation ids). The re-processed run appends exactly the events
the interrupted one had not.

The run decides on its own view of the account (`RunReplica`); the log records those
decisions and does not take them again: an order the run placed is recorded without the
pre-trade risk rules (the run applied them at its candle; the log's risk record may already
hold a later operator's halt that the run applies only at a later candle), and a denial is
recorded with the run's reason.

Looking a command up costs a read of the log per command. At a candle that no earlier process
can have processed (`is_beyond_log`, set by the loop) the log holds no signal or order of it,
so those are appended without the look-up (the log's unique aggregate versions would refuse a
second copy anyway).

Within a batch (`begin_batch` ... `end_batch`, one candle's work) the commands are decided at
once on the aggregates they change, held in memory, and recorded together by `flush` in one
transaction, in the order given; the loop flushes before an order is sent (an order reaches
the exchange only once the log holds it) and at the end of the candle. A write race at a flush
decides the batch's commands again on the log as it is now.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import ProcessingEvent
from eventsourcing.persistence import IntegrityError

from commands.errors import ConcurrencyConflictError
from commands.handlers import orders
from commands.messages import (
    AcceptOrder,
    CancelOrder,
    ChangeTradingState,
    PlaceOrder,
    RecordSignal,
    RejectOrder,
    SetRiskLimits,
)
from commands.trading import CONFLICT_BACKOFF_S, DEFAULT_CONFLICT_RETRIES, OrderPlacement, Trading
from domain.constants import DEFAULT_FEE_RATE
from domain.events import Cause, LedgerEvent
from domain.ids import order_id, risk_limits_id
from domain.market import DEFAULT_MARKETS
from domain.orders.order import Order
from domain.orders.status import OrderStatus
from domain.risk.breach import Breach
from domain.risk.limits import RiskLimits
from domain.strategies.signal import Signal, signal_id

A = TypeVar("A")


class ResumableTrading(Trading):
    """Trading whose run commands are skipped when their outcome is already in the log."""

    name = "Ledger"  # the same log (ledger_events): a subclass would get a name of its own

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        account: str = "main",
        markets: frozenset[str] = DEFAULT_MARKETS,
        fee_rate: Decimal = DEFAULT_FEE_RATE,
        conflict_retries: int = DEFAULT_CONFLICT_RETRIES,
    ) -> None:
        super().__init__(
            env,
            account=account,
            markets=markets,
            fee_rate=fee_rate,
            conflict_retries=conflict_retries,
        )
        self.is_beyond_log = False
        """True while the run decides at a candle no earlier process can have processed."""
        self._unsent: set[UUID] = set()
        self._batch: dict[UUID, Any] | None = None
        """The aggregates the batch changed, as changed (what the batch's commands read)."""
        self._events: list[Any] = []
        """The batch's new events, in the order the commands made them."""
        self._given: list[Callable[[], object]] = []

    # One candle's commands, recorded in one transaction.
    def begin_batch(self) -> None:
        """Hold the commands given from now on until `flush`."""
        self._batch, self._events, self._given = {}, [], []

    def give(self, command: Callable[[], object]) -> None:
        """Give a command: recorded now, or, within a batch, at the next flush."""
        if self._batch is None:
            command()
            return
        self._given.append(command)
        try:
            command()
        except BaseException:
            self._batch, self._events, self._given = {}, [], []  # nothing half-decided is saved
            raise

    def flush(self) -> None:
        """Record the batch's commands so far in one transaction (nothing if there are none)."""
        if not self._events:
            self._batch, self._given = {}, []
            return
        with self.account_turn():  # the account's writers take turns
            for attempt_no in range(self.conflict_retries):
                try:
                    self._record_in_order()
                    self._batch, self._events, self._given = {}, [], []
                    return
                except IntegrityError:
                    # Another writer won the race: decide the batch's commands again, on the log.
                    time.sleep(CONFLICT_BACKOFF_S * (attempt_no + 1))
                    given, self._batch, self._events, self._given = self._given, {}, [], []
                    for command in given:
                        self.give(command)
        raise ConcurrencyConflictError(
            f"record a candle's {len(self._given)} commands: other writers changed the same "
            f"records {self.conflict_retries} times in a row; nothing was recorded; try again"
        )

    def end_batch(self) -> None:
        """Record what the batch holds and stop batching."""
        try:
            self.flush()
        finally:
            self._batch, self._events, self._given = None, [], []

    def abort_batch(self) -> None:
        """Drop what the batch holds (the candle failed; a restart decides it again)."""
        self._batch, self._events, self._given = None, [], []

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        """Save now, or, within a batch, hold the new events until the next flush."""
        if self._batch is None:
            return super().save(*objs, **kwargs)
        for obj in objs:
            if obj is not None:
                self._events.extend(obj.collect_events())
                self._batch[obj.id] = obj
        return []

    def _record_in_order(self) -> None:
        # As the library's save, with the events in the order the commands made them (its
        # own save would group them by aggregate): one transaction, then the snapshots.
        processing = ProcessingEvent[UUID]()
        processing.events.extend(self._events)
        processing.aggregates.update(self._batch or {})
        recordings = self._record(processing)
        self._take_snapshots(processing)
        self._notify(recordings)

    def find(self, aggregate_id: UUID, kind: type[A]) -> A | None:
        """Return an aggregate as the batch changed it, else as the log holds it."""
        if self._batch is not None and aggregate_id in self._batch:
            held = self._batch[aggregate_id]
            return held if isinstance(held, kind) else None
        return super().find(aggregate_id, kind)

    def record_signal(self, command: RecordSignal) -> UUID:
        """Record the signal unless it is recorded; return its id."""
        existing = signal_id(
            command.run_id, command.strategy_id, command.candle_open_time, command.rank
        )
        if not self.is_beyond_log and self.find(existing, Signal) is not None:
            return existing
        return super().record_signal(command)

    def place_order(self, command: PlaceOrder) -> UUID:
        """Record the run's order (the run checked its risk) unless it was placed; return its id."""
        existing = order_id(command.client_order_id.strip())
        if not self.is_beyond_log and self.find(existing, Order) is not None:
            return existing
        placed = self.retrying(
            lambda: orders.place(self, [command], risk_checked=False)[0], "record a run's order"
        )
        self._unsent.add(placed)
        return placed

    def record_placement(self, command: PlaceOrder, placement: OrderPlacement) -> None:
        """Record a strategy's order as the run placed or denied it, unless the log holds it."""
        existing = order_id(command.client_order_id.strip())
        if not self.is_beyond_log and self.find(existing, Order) is not None:
            return
        denial = placement.denial
        if denial is None:
            self.place_order(command)
        else:
            self.retrying(lambda: orders.record_denial(self, command, denial), "record a denial")

    def claim_first_sending(self, order_id_: UUID) -> bool:
        """Return True once for an order this process placed in the log and has not sent yet.

        No earlier process can have sent it: an order is sent only after the log holds it, and
        the log did not hold it before this process placed it. Every later sending of the order
        (after a failure, or by a loop that took over) returns False, and is looked up first.
        """
        if order_id_ in self._unsent:
            self._unsent.discard(order_id_)
            return True
        return False

    def record_breaches(self, breaches: Sequence[Breach], cause: Cause) -> None:
        """Record the run's breaches at a close unless the log holds them."""
        if not self._has_risk_event(cause, RiskLimits.LimitBreached):
            super().record_breaches(breaches, cause)

    def change_trading_state(self, command: ChangeTradingState) -> None:
        """Change the trading state unless the log holds the change or the state holds."""
        if self._has_risk_event(command.cause, _STATE_EVENTS):
            return
        risk = self.get_risk_limits()
        if risk is not None and risk.state.value == command.to_state.lower():
            return  # e.g. an operator halted in the log before the run's own halt
        super().change_trading_state(command)

    def set_risk_limits(self, command: SetRiskLimits) -> None:
        """Set the risk limits unless the log holds this change."""
        if not self._has_risk_event(command.cause, RiskLimits.LimitsSet):
            super().set_risk_limits(command)

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

    def _has_risk_event(self, cause: Cause, kinds: type | tuple[type, ...]) -> bool:
        # By kind and cause: the monitor's breach and its halt once flat may share one cause.
        key = (cause.occurred_at, cause.actor, cause.causation_id, cause.correlation_id)
        return any(
            (e.occurred_at, e.actor, e.causation_id, e.correlation_id) == key
            for e in self.events.get(risk_limits_id(self.account))
            if isinstance(e, LedgerEvent) and isinstance(e, kinds)
        )


_STATE_EVENTS = (
    RiskLimits.TradingHalted,
    RiskLimits.TradingReduced,
    RiskLimits.TradingResumed,
)
