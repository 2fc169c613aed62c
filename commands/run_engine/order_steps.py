"""The engine's order steps: place a strategy's decision, send it, take its fills and its end.

Every signal, order and fill goes through the `Trading` application, so a backtest appends
exactly the events that trading would; a strategy's order refused by a pre-trade risk rule is
recorded as denied, and the strategy is told. An order is sent through the run's `Execution`
(the paper fill model, or an exchange) and fills from the candle after its decision on.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from commands.messages import (
    AcceptOrder,
    CancelOrder,
    PlaceOrder,
    RecordFill,
    RecordSignal,
    RecordSubmissionFailure,
    RejectOrder,
)
from commands.risk.run_monitor import MONITOR_ACTOR
from commands.run_engine.engine_state import EngineState
from commands.run_engine.execution import ExecutedFill
from commands.run_engine.run_model import FillRecord, StrategyTrack
from commands.run_engine.working_orders import WorkingOrder
from domain.candles.candle import Candle
from domain.errors import RiskError
from domain.events import Cause
from domain.orders.status import OrderStatus
from domain.orders.terms import OrderSide, OrderType
from domain.strategies.base import (
    FillNotice,
    OrderEnd,
    OrderEndNotice,
    OrderIntent,
)


class OrderSteps:
    """Places, sends, fills and ends the run's orders, on the run's state."""

    def __init__(self, state: EngineState) -> None:
        self.state = state

    def place(
        self, track: StrategyTrack, intent: OrderIntent, rank: int, index: int, candle: Candle
    ) -> None:
        """Record a strategy's decision as a signal and an order (or a denial); send it."""
        name = track.strategy.name
        decided = self.state.cause(
            candle.close_time,
            f"strategy:{name}",
            f"candle:{self.state.config.market}:{candle.open_time.isoformat()}",
            f"candle:{candle.open_time.isoformat()}",
        )
        signal_id = self.state.trading.record_signal(
            RecordSignal(
                self.state.config.run_id,
                name,
                self.state.config.market,
                candle.open_time,
                rank,
                intent,
                decided,
            )
        )
        flow = self.state.cause(
            candle.close_time, f"strategy:{name}", str(signal_id), str(signal_id)
        )
        is_market_ask = intent.order_type is OrderType.MARKET and intent.side is OrderSide.ASK
        risk_seen = (self.state.risk.state, self.state.risk.limits)  # as the run applied them
        placement = self.state.trading.place_strategy_order(
            PlaceOrder(
                client_order_id=str(signal_id),
                strategy_id=name,
                market=self.state.config.market,
                side=intent.side.value,
                order_type=intent.order_type.value,
                cause=flow,
                price_krw=intent.price_krw,
                volume_btc=intent.volume_btc,
                amount_krw=intent.amount_krw,
                reference_price_krw=candle.close if is_market_ask else None,
            ),
            risk_seen=risk_seen,
        )
        if placement.denial is not None:
            self.deny(track, intent, placement.denial)
            return
        working = WorkingOrder(
            order_id=placement.order_id,
            strategy=name,
            tag=intent.tag,
            flow=str(signal_id),
            side=intent.side,
            order_type=intent.order_type,
            price_krw=intent.price_krw,
            remaining_btc=intent.volume_btc or Decimal(0),
            remaining_krw=intent.amount_krw or Decimal(0),
            placed_at_index=index,
        )
        self.state.pending.append(working)
        self.submit(working, candle, flow)
        self.state.refresh(track)

    def submit(self, order: WorkingOrder, candle: Candle, flow: Cause) -> None:
        """Hand a placed order to the execution; record what it answered, if it did."""
        ack = self.state.execution.submit(order, candle)
        order.handed += 1
        if ack.exchange_order_id is not None:
            accepted = self._answered(ack.accepted_at or candle.close_time, flow)
            self.state.trading.accept_order(
                AcceptOrder(order.order_id, ack.exchange_order_id, accepted)
            )
            order.is_acknowledged = True
        elif ack.refusal is not None:
            code, message = ack.refusal
            refused = self._answered(candle.close_time, flow)
            self.state.trading.reject_order(
                RejectOrder(order.order_id, f"{code}: {message}", "exchange", refused)
            )
            self.state.pending.remove(order)
            if not order.placed_by_risk:
                notice = OrderEndNotice(
                    order.tag, order.side, OrderEnd.REJECTED, code, message, Decimal(0)
                )
                self.state.tracks[order.strategy].strategy.on_order_ended(notice)
            self.state.refresh(self.state.tracks[order.strategy])
        elif ack.failure is not None:
            failed = self._answered(candle.close_time, flow)
            self.state.trading.record_submission_failure(
                RecordSubmissionFailure(order.order_id, ack.failure, failed)
            )

    def _answered(self, at: datetime, flow: Cause) -> Cause:
        """Return the cause of the execution's answer at `at` to an order of the flow."""
        return self.state.cause(
            at, self.state.execution.actor, flow.causation_id, flow.correlation_id
        )

    def take_answers(self, candle: Candle) -> None:
        """Record the exchange's answers to the orders sent after the candle was recorded."""
        self.resubmit_unacknowledged(candle)

    def resubmit_unacknowledged(self, candle: Candle) -> None:
        """Hand over again each order still NEW: its sending had no known outcome."""
        # An order whose sending had no known outcome is still NEW: ask again at each close.
        for order in [o for o in self.state.pending if not o.is_acknowledged]:
            if self.state.trading.get_order(order.order_id).status is OrderStatus.NEW:
                actor = MONITOR_ACTOR if order.placed_by_risk else f"strategy:{order.strategy}"
                flow = self.state.cause(candle.close_time, actor, order.flow, order.flow)
                self.submit(order, candle, flow)

    def fill(self, index: int, candle: Candle) -> None:
        """Record the fills this candle gave the working orders, and the orders it ended."""
        self.state.execution.prepare(candle, self.state.pending)
        for order in list(self.state.pending):
            if order.placed_at_index >= index or not order.is_acknowledged:
                continue  # an order fills from the candle after its decision on, once OPEN
            fills = self.state.execution.fills(order, candle)
            for fill in fills:
                self.record_fill(order, fill, candle)
            if not fills and order in self.state.pending:
                self.end_if_ended(order, candle)

    def record_fill(self, order: WorkingOrder, fill: ExecutedFill, candle: Candle) -> None:
        """Record one fill of a working order and tell its strategy."""
        track = self.state.tracks[order.strategy]
        cause = self.state.cause(
            fill.executed_at, self.state.execution.actor, str(order.order_id), order.flow
        )
        self.state.trading.record_fill(
            RecordFill(
                order.order_id, fill.trade_id, fill.price_krw, fill.qty_btc, fill.fee_krw, cause
            )
        )
        order.apply(fill.qty_btc, fill.price_krw)
        is_complete = self.state.trading.get_order(order.order_id).status is OrderStatus.FILLED
        if fill.is_complete is not None and is_complete != fill.is_complete:
            raise AssertionError(f"execution and ledger disagree on order {order.order_id}")
        if is_complete:
            self.state.pending.remove(order)
        track.fills.append(
            FillRecord(
                candle.close_time,
                order.side.value,
                fill.price_krw,
                fill.qty_btc,
                fill.fee_krw,
                order.order_id,
            )
        )
        self.state.refresh(track)
        if not order.placed_by_risk:  # the monitor's asks are not the strategy's decisions
            notice = FillNotice(order.tag, order.side, fill.price_krw, fill.qty_btc, is_complete)
            track.strategy.on_fill(notice)

    def end_if_ended(self, order: WorkingOrder, candle: Candle) -> None:
        """Cancel in the ledger an order its execution ended before it filled in full."""
        # E.g. clarification 6: a market bid completes when its remainder buys less than 1e-8
        # BTC; the ledger closes it as Upbit does such an order: cancelled, keeping its fills.
        reason = self.state.execution.ended(order, candle)
        if reason is None:
            return
        cause = self.state.cause(
            candle.close_time, self.state.execution.actor, str(order.order_id), order.flow
        )
        self.state.trading.cancel_order(CancelOrder(order.order_id, reason, cause))
        self.state.pending.remove(order)
        self.state.refresh(self.state.tracks[order.strategy])

    def deny(self, track: StrategyTrack, intent: OrderIntent, denial: RiskError) -> None:
        """Count a strategy's order refused by a pre-trade risk rule, and tell the strategy."""
        code = denial.code
        track.denials[code] = track.denials.get(code, 0) + 1
        self.state.touched.add(track.strategy.name)
        notice = OrderEndNotice(
            intent.tag, intent.side, OrderEnd.REJECTED, code, str(denial), Decimal(0)
        )
        track.strategy.on_order_ended(notice)

    def cancel_all(self, track: StrategyTrack, reason: str, candle: Candle) -> None:
        """Cancel the strategy's working orders (its decision to cancel)."""
        name = track.strategy.name
        for order in [o for o in self.state.pending if o.strategy == name and not o.placed_by_risk]:
            cause = self.state.cause(
                candle.close_time, f"strategy:{name}", str(order.order_id), order.flow
            )
            self.state.execution.cancel(order)
            self.state.trading.cancel_order(CancelOrder(order.order_id, reason, cause))
            self.state.pending.remove(order)
        self.state.refresh(track)
