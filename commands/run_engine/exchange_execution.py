"""The exchange execution: the engine's orders through an `ExchangeGateway` (Upbit, the sandbox).

Orders reach the exchange at most once (architecture.md, guarantee 2): each carries its order
id as Upbit's `identifier`, and an order is sent only once the log holds it. At a candle the
engine places its orders in the log and hands them here, where they are held (`submit`); the
run records the candle in one transaction, then `send_held` sends them, and the run records
their outcomes (`submit` again, which now answers from what the exchange said). An order handed
here a second time, by a later candle or a restarted process, is looked up by its identifier
before anything is sent: an earlier process may have sent it and stopped before the log
recorded the answer. Fills are the exchange's trades, taken at the first close at or after the
moment they executed (so a decision sees exactly the fills dated up to its candle's close, as
in a backtest). What the log already records of an order (its acknowledgement, its fills) is
read from the log, so a restarted run asks the exchange only about what the log does not know.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from commands.errors import ExchangeRefusedOrderError, ExchangeUnavailableError
from commands.ports import (
    ExchangeGateway,
    ExchangeOrder,
    ExchangeOrderState,
    ExchangeTrade,
    OrderTicket,
)
from commands.run_engine.execution import Acknowledgement, ExecutedFill
from commands.run_engine.working_orders import WorkingOrder
from commands.trading import Trading
from domain.candles.candle import Candle
from domain.orders.order import Order
from domain.orders.terms import OrderSide, OrderType

ENDED_REASON = "the exchange ended the order before it filled in full (state cancel)"


@dataclass
class KnownOrder:
    """What the run knows of one order at the exchange: its trades in order, and its state."""

    trades: list[ExchangeTrade] = field(default_factory=list)
    state: ExchangeOrderState | None = None
    """None: the exchange was not asked yet (or does not have the order)."""

    def take(self, order: ExchangeOrder) -> None:
        """Add the trades not known yet and take the exchange's state."""
        known = {t.trade_id for t in self.trades}
        self.trades.extend(t for t in order.trades if t.trade_id not in known)
        self.state = order.state


class ExchangeExecution:
    """Sends the engine's orders to an exchange and takes back their trades."""

    def __init__(
        self,
        gateway: ExchangeGateway,
        log: Trading,
        market: str,
        *,
        horizon: Callable[[], datetime | None],
    ) -> None:
        """`horizon()` is the close of the newest candle the log holds: the exchange is past it."""
        self.gateway = gateway
        self.log = log
        self.market = market
        self.actor = f"exchange:{gateway.name}"
        self._horizon = horizon
        self._known: dict[UUID, KnownOrder] = {}
        self._synced_until: datetime | None = None
        self._sent_since_sync = False
        self._held: dict[UUID, tuple[OrderTicket, bool]] = {}
        """Orders handed over and not sent yet: their ticket, and whether to look it up first."""
        self._answers: dict[UUID, Acknowledgement] = {}
        """What the exchange answered to orders sent and not yet recorded."""

    def prepare(self, candle: Candle, working: list[WorkingOrder]) -> None:
        """Ask the exchange about the working orders that this candle could have filled.

        A limit order trades in a minute only if its price traded, so only if the candle
        touched it; a market order trades at the next open. The exchange is not asked when it
        was asked past this close already (a run re-processed after a restart).
        """
        is_covered = self._synced_until is not None and candle.close_time <= self._synced_until
        if is_covered and not self._sent_since_sync:
            return
        waiting = [
            o.order_id
            for o in working
            if self._known_of(o.order_id).state in _WORKING and _may_trade(o, candle)
        ]
        for order_id in waiting:  # usually none or a few: only orders the candle touched
            found = self.gateway.find(order_id)
            if found is not None:
                self._known[order_id].take(found)
        self._synced_until = self._horizon() or candle.close_time
        self._sent_since_sync = False

    def submit(self, order: WorkingOrder, candle: Candle) -> Acknowledgement:
        """Return the exchange's answer to the order if it came; else hold it for `send_held`.

        An order handed over for the first time (`order.handed == 0`: placed at this candle by
        this process) is sent without a look-up; any other is looked up by its id first.
        """
        answer = self._answers.pop(order.order_id, None)
        if answer is not None:
            if answer.failure is not None:
                self._hold(order, look_up=True)  # sent again, looked up first, after the record
            return answer
        if order.handed > 0:
            recorded = self._recorded_outcome(order.order_id)
            if recorded is not None:
                return recorded
        self._hold(order, look_up=order.handed > 0)
        return Acknowledgement()

    def send_held(self, working: list[WorkingOrder]) -> int:
        """Send the held orders still working (the log holds them); return how many were sent.

        Their answers are kept for the next `submit` of each, which the run records.
        """
        still = {o.order_id for o in working}
        held, self._held = self._held, {}
        sent = 0
        for order_id, (ticket, look_up) in held.items():
            if order_id not in still:
                continue  # ended before it was sent (a cancel at the same close)
            self._answers[order_id] = self._send(ticket, look_up)
            sent += 1
        return sent

    def _hold(self, order: WorkingOrder, *, look_up: bool) -> None:
        ticket = OrderTicket(
            order_id=order.order_id,
            market=self.market,
            side=order.side,
            order_type=order.order_type,
            price_krw=order.price_krw,
            volume_btc=order.remaining_btc if order.remaining_btc else None,
            amount_krw=order.remaining_krw
            if order.order_type is OrderType.MARKET and order.remaining_krw
            else None,
        )
        self._held[order.order_id] = (ticket, look_up)

    def _send(self, ticket: OrderTicket, look_up: bool) -> Acknowledgement:
        try:
            # Look before sending: an earlier process (or attempt) may have sent it already.
            found = self.gateway.find(ticket.order_id) if look_up else None
            placed = found or self.gateway.submit(ticket)
        except ExchangeRefusedOrderError as refused:
            return Acknowledgement(refusal=(refused.code, str(refused)))
        except ExchangeUnavailableError as failed:
            return Acknowledgement(failure=f"{self.gateway.name}: {failed}")
        self._sent_since_sync = True
        known = self._known.setdefault(ticket.order_id, KnownOrder())
        known.take(placed)
        return Acknowledgement(placed.exchange_order_id, placed.created_at)

    def fills(self, order: WorkingOrder, candle: Candle) -> list[ExecutedFill]:
        """Return the order's trades not taken yet that executed by this candle's close."""
        trades = self._known_of(order.order_id).trades[order.fills :]
        due = []
        for trade in trades:
            if trade.executed_at > candle.close_time:
                break
            due.append(
                ExecutedFill(
                    trade.trade_id, trade.price_krw, trade.qty_btc, trade.fee_krw, trade.executed_at
                )
            )
        return due

    def ended(self, order: WorkingOrder, candle: Candle) -> str | None:
        """Return why the order ended, when the exchange ended it and every trade was taken."""
        known = self._known_of(order.order_id)
        if known.state is ExchangeOrderState.CANCEL and order.fills == len(known.trades):
            return ENDED_REASON
        return None

    def cancel(self, order: WorkingOrder) -> None:
        """Ask the exchange to cancel the order, keeping the trades it reports.

        An order the exchange has already ended (cancelled by an earlier process that stopped
        before the log recorded it, or filled meanwhile) is not asked again. An order the
        exchange does not have (a sandbox started anew, an account reset) has nothing to cancel
        there: the run ends it in the log all the same, and reconciliation reports the
        difference (`order_missing_at_exchange`). Neither is an error of the run.
        """
        if self._held.pop(order.order_id, None) is not None:
            return  # never sent: nothing to withdraw at the exchange
        known = self._known_of(order.order_id)
        found = self.gateway.find(order.order_id)
        if found is None:
            return
        if found.state is ExchangeOrderState.WAIT:
            try:
                found = self.gateway.cancel(order.order_id)
            except ExchangeRefusedOrderError:
                # It ended (or vanished) between the look-up and the cancel: ask what it is now.
                found = self.gateway.find(order.order_id)
                if found is None:
                    return
        known.take(found)

    def _known_of(self, order_id: UUID) -> KnownOrder:
        known = self._known.get(order_id)
        if known is None:
            known = self._from_log(order_id)
            if known.state in _WORKING:
                # The log may lag the exchange (a process stopped between the two): ask once.
                found = self.gateway.find(order_id)
                if found is not None:
                    known.take(found)
            self._known[order_id] = known
        return known

    def _from_log(self, order_id: UUID) -> KnownOrder:
        known = KnownOrder(state=ExchangeOrderState.WAIT)
        for event in self.log.events.get(order_id):
            if isinstance(event, Order.PartiallyFilled | Order.Filled):
                known.trades.append(
                    ExchangeTrade(
                        event.trade_id,
                        event.price_krw,
                        event.qty_btc,
                        event.fee_krw,
                        event.occurred_at,
                    )
                )
            if isinstance(event, Order.Filled):
                known.state = ExchangeOrderState.DONE
            elif isinstance(event, Order.Cancelled):
                known.state = ExchangeOrderState.CANCEL
        return known

    def _recorded_outcome(self, order_id: UUID) -> Acknowledgement | None:
        for event in self.log.events.get(order_id):
            if isinstance(event, Order.Accepted):
                return Acknowledgement(event.exchange_order_id, event.occurred_at)
            if isinstance(event, Order.Rejected):
                code, _, message = event.reason.partition(": ")
                return Acknowledgement(refusal=(code, message))
        return None


_WORKING = (ExchangeOrderState.WAIT, None)


def _may_trade(order: WorkingOrder, candle: Candle) -> bool:
    if order.order_type is OrderType.MARKET or order.price_krw is None:
        return True
    if order.side is OrderSide.BID:
        return candle.low <= order.price_krw
    return candle.high >= order.price_krw
