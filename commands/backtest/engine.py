"""The backtest engine: candle by candle, the paper fills first, then the decisions.

strategies.md "Order of work at each candle": first the fills that this candle produces for
orders placed earlier (in placement order), then the strategies' decisions at its close in the
fixed order volatility breakout, grid, turtle. Between the two, the risk monitor marks the book
at the close and applies what crossed a limit (`commands/backtest/risk_monitor.py`). Every
signal, order and fill goes through the `Trading` application, so a backtest appends exactly
the events that trading would; a strategy's order refused by a pre-trade risk rule is recorded
as denied, and the strategy is told.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from uuid import UUID

import numpy as np
import numpy.typing as npt

from commands.backtest.execution import ExecutedFill, Execution
from commands.backtest.paper_execution import PaperExecution
from commands.backtest.paper_orders import PaperOrder
from commands.backtest.risk_monitor import MONITOR_ACTOR, STATE_CODES, Holdings, RiskMonitor
from commands.backtest.run_model import (
    IN_MEMORY_ENV,
    STRATEGY_ORDER,
    EngineConfig,
    FillRecord,
    StrategyTrack,
)
from commands.messages import (
    AcceptOrder,
    AllocateCapital,
    CancelOrder,
    PlaceOrder,
    RecordFill,
    RecordSignal,
    RecordSubmissionFailure,
    RejectOrder,
)
from commands.trading import Trading
from domain.candles.candle import Candle
from domain.candles.tape import CandleTape
from domain.errors import RiskError
from domain.events import Cause
from domain.market_point import MarketPoint, MarketPointBuilder
from domain.orders.status import OrderStatus
from domain.orders.terms import OrderSide, OrderType
from domain.replay_hash import replay_digest
from domain.risk.limits import TradingState
from domain.strategies.base import (
    CancelIntent,
    DecisionContext,
    FillNotice,
    OrderEnd,
    OrderEndNotice,
    OrderIntent,
    Strategy,
    StrategyBook,
)

__all__ = ["IN_MEMORY_ENV", "BacktestEngine", "EngineConfig", "FillRecord", "StrategyTrack"]


class BacktestEngine:
    """Runs strategies over closed 1-minute candles through the ledger.

    `run` takes the candles one by one, as live trading does; `run_tape` visits only the
    candles at which an order can fill or a strategy can act, found by scanning the tape's
    arrays. Both call `process` at a candle the same way, so both append the same events.
    """

    def __init__(
        self,
        trading: Trading,
        strategies: Sequence[Strategy],
        config: EngineConfig,
        execution: Execution | None = None,
        *,
        allocates: bool = True,
    ):
        names = [s.name for s in strategies]
        unknown = [n for n in names if n not in STRATEGY_ORDER]
        if unknown or len(set(names)) != len(names):
            raise ValueError(f"strategies {names} must be distinct names of {STRATEGY_ORDER}")
        self.trading = trading
        self.config = config
        self.execution: Execution = execution or PaperExecution(config.fill_model)
        self.allocates = allocates
        """Allocate the capital at the first candle (a backtest); a trading run opens funded."""
        empty = StrategyBook(config.capital_krw, config.capital_krw, Decimal(0), ())
        self.tracks = {
            s.name: StrategyTrack(s, empty, [(0, config.capital_krw, Decimal(0))])
            for s in sorted(strategies, key=lambda s: STRATEGY_ORDER.index(s.name))
        }
        self.pending: list[PaperOrder] = []
        self.risk = RiskMonitor(trading, config)
        self.candles = 0
        self.closes: npt.NDArray[np.float64] = np.zeros(0)
        self.first_time: datetime | None = None
        self.last_candle: Candle | None = None
        self.session_end_indexes: list[int] = []
        self._index = 0
        self._touched: set[str] = set()
        self._strategy_wake: dict[str, int] = {}
        """Strategies that acted or had a fill at the candle being processed."""

    # Drivers.
    def run(self, candles: Iterable[Candle]) -> BacktestEngine:
        """Process every candle, one at a time (the path live trading takes)."""
        points = MarketPointBuilder()
        closes: list[float] = []
        for index, candle in enumerate(candles):
            point = points.add(candle)
            self.process(index, point)
            closes.append(float(candle.close))
            if point.just_completed is not None:
                self.session_end_indexes.append(index)
        self.closes = np.array(closes, dtype=np.float64)
        return self

    def run_tape(
        self, tape: CandleTape, progress: Callable[[int, int], None] | None = None
    ) -> BacktestEngine:
        """Process only the candles where something can happen; identical events to `run`.

        `progress(index, total)` is called after each processed candle, if given.
        """
        index, n = 0, len(tape)
        wake: dict[UUID, int] = {}
        while index < n:
            self._touched.clear()
            if self.risk.is_watching:
                self.risk.catch_up(tape, index, self._holdings())
            self.process(index, tape.point(index))
            index = self._next_event(index, tape, wake)
            if progress is not None:
                progress(min(index, n), n)
        self.candles = n
        self.closes = tape.close
        self.last_candle = tape.candle(n - 1)
        self.session_end_indexes = list(tape.completion_indices)
        return self

    def process(self, index: int, point: MarketPoint) -> None:
        """Process the close of one candle: its fills, the risk monitor, then the decisions."""
        candle = point.candle
        self._index = index
        if index == 0:
            self.first_time = candle.close_time
            if self.allocates:
                self._allocate(candle)
            else:
                self.refresh_books()
        self._resubmit_unacknowledged(candle)
        self._fill(index, candle)
        if self.risk.is_watching:
            self._monitor(index, candle)
        for track in self.tracks.values():
            context = DecisionContext(
                candle=candle,
                session_open=point.session_open,
                session_end=point.session_end,
                completed_bars=point.completed_bars,
                just_completed=point.just_completed,
                book=track.book,
                fee_rate=self.config.fill_model.fee_rate,
            )
            for rank, decision in enumerate(track.strategy.decide(context)):
                if isinstance(decision, CancelIntent):
                    self._cancel_all(track, decision.reason, candle)
                else:
                    self._place(track, decision, rank, index, candle)
        self.candles = index + 1
        self.last_candle = candle

    # The record.
    def equity_curve(self, name: str) -> npt.NDArray[np.float64]:
        """Return the strategy's equity at every close: float(cash) + float(qty) x close."""
        cash, qty = self.tracks[name].segments(self.candles)
        return cash + qty * self.closes

    def position_curve(self, name: str) -> npt.NDArray[np.float64]:
        """Return the BTC held at every close (as floats, for exposure)."""
        return self.tracks[name].segments(self.candles)[1]

    def final_equity(self, name: str) -> Decimal:
        """Return the exact equity at the last close."""
        book = self.tracks[name].book
        close = self.last_candle.close if self.last_candle else Decimal(0)
        return book.cash_krw + book.qty_btc * close

    @property
    def last_time(self) -> datetime | None:
        """Return the close time of the last candle."""
        return self.last_candle.close_time if self.last_candle else None

    def replay_hash(self) -> str:
        """Return the replay hash of the decision events this run appended."""
        return self.replay_digest()[0]

    def replay_digest(self) -> tuple[str, int]:
        """Return the replay hash of the decision events this run appended, and their count."""
        notifications = self.trading.recorder.select_notifications(start=None, limit=10**9)
        events = (self.trading.mapper.to_domain_event(n) for n in notifications)
        return replay_digest((type(e).TOPIC, vars(e)) for e in events)  # type: ignore[attr-defined]

    # The fast path: the next candle at which anything can happen.
    def _next_event(self, index: int, tape: CandleTape, wake: dict[UUID, int]) -> int:
        candidates = [len(tape)]
        for order in self.pending:
            # Keyed by order id: an object's id() may be reused by an order placed later.
            known = wake.get(order.order_id)
            if known is None or known <= index:
                known = order.next_fill(index, tape, self.config.fill_model)
                wake[order.order_id] = known
            candidates.append(known)
        fee_rate = self.config.fill_model.fee_rate
        for name, track in self.tracks.items():
            # A strategy's next wake stands until it is reached or the strategy acted or
            # filled: its state and book are unchanged, and the scan would find it again.
            known = self._strategy_wake.get(name)
            if known is None or known <= index or name in self._touched:
                known = track.strategy.wake_after(index, tape, track.book, fee_rate)
                self._strategy_wake[name] = known
            candidates.append(known)
        after = max(index + 1, min(candidates))
        if self.risk.is_watching:  # a limit may cross before anything else happens
            after = self.risk.wake_after(index, after, tape, self._holdings())
        return after

    # Steps.
    def _allocate(self, candle: Candle) -> None:
        cause = self._cause(candle.open_time, "backtest", "allocation", "allocation")
        for name in self.tracks:
            self.trading.allocate_capital(AllocateCapital(name, self.config.capital_krw, cause))
        self.risk.set_limits(cause)

    def _monitor(self, index: int, candle: Candle) -> None:
        moved = self.risk.close(index, candle, self._holdings())
        if moved is not None:
            self._end_all(candle, moved)
            if moved is TradingState.REDUCING:
                held = {name: track.book.qty_btc for name, track in self.tracks.items()}
                for order in self.risk.liquidate(index, candle, held):
                    self.pending.append(order)
                    self._submit(order, candle, self.risk.cause(candle))
                for track in self.tracks.values():
                    self._refresh(track)
        is_selling = any(o.placed_by_risk for o in self.pending)
        if self.risk.halt_if_flat(candle, self._holdings(), is_selling):
            self._end_all(candle, TradingState.HALTED)

    def _end_all(self, candle: Candle, state: TradingState) -> None:
        # A halt or a reduce cancels every open order at the close that crossed the limit.
        reason = f"risk monitor: trading {state.value} ({self.risk.reason})"
        cause = self.risk.cause(candle)
        for order in list(self.pending):
            self.trading.cancel_order(CancelOrder(order.order_id, reason, cause))
            self.pending.remove(order)
            track = self.tracks[order.strategy]
            self._refresh(track)
            if not order.placed_by_risk:
                notice = OrderEndNotice(
                    tag=order.tag,
                    side=order.side,
                    end=OrderEnd.CANCELLED,
                    code=STATE_CODES[state],
                    reason=reason,
                    filled_qty_btc=order.filled_btc,
                )
                track.strategy.on_order_ended(notice)

    def _holdings(self) -> Holdings:
        return {name: (t.book.cash_krw, t.book.qty_btc) for name, t in self.tracks.items()}

    def _fill(self, index: int, candle: Candle) -> None:
        self.execution.prepare(candle, self.pending)
        for order in list(self.pending):
            if order.placed_at_index >= index or not order.is_acknowledged:
                continue  # an order fills from the candle after its decision on, once OPEN
            fills = self.execution.fills(order, candle)
            for fill in fills:
                self._record(order, fill, candle)
            if not fills and order in self.pending:
                self._end_if_ended(order, candle)

    def _record(self, order: PaperOrder, fill: ExecutedFill, candle: Candle) -> None:
        track = self.tracks[order.strategy]
        cause = self._cause(fill.executed_at, self.execution.actor, str(order.order_id), order.flow)
        self.trading.record_fill(
            RecordFill(
                order.order_id, fill.trade_id, fill.price_krw, fill.qty_btc, fill.fee_krw, cause
            )
        )
        order.apply(fill.qty_btc, fill.price_krw)
        is_complete = self.trading.get_order(order.order_id).status is OrderStatus.FILLED
        if fill.is_complete is not None and is_complete != fill.is_complete:
            raise AssertionError(f"execution and ledger disagree on order {order.order_id}")
        if is_complete:
            self.pending.remove(order)
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
        self._refresh(track)
        if not order.placed_by_risk:  # the monitor's asks are not the strategy's decisions
            notice = FillNotice(order.tag, order.side, fill.price_krw, fill.qty_btc, is_complete)
            track.strategy.on_fill(notice)

    def _end_if_ended(self, order: PaperOrder, candle: Candle) -> None:
        # E.g. clarification 6: a market bid completes when its remainder buys less than 1e-8
        # BTC; the ledger closes it as Upbit does such an order: cancelled, keeping its fills.
        reason = self.execution.ended(order, candle)
        if reason is None:
            return
        cause = self._cause(
            candle.close_time, self.execution.actor, str(order.order_id), order.flow
        )
        self.trading.cancel_order(CancelOrder(order.order_id, reason, cause))
        self.pending.remove(order)
        self._refresh(self.tracks[order.strategy])

    def _place(
        self, track: StrategyTrack, intent: OrderIntent, rank: int, index: int, candle: Candle
    ) -> None:
        name = track.strategy.name
        decided = self._cause(
            candle.close_time,
            f"strategy:{name}",
            f"candle:{self.config.market}:{candle.open_time.isoformat()}",
            f"candle:{candle.open_time.isoformat()}",
        )
        signal_id = self.trading.record_signal(
            RecordSignal(
                self.config.run_id,
                name,
                self.config.market,
                candle.open_time,
                rank,
                intent,
                decided,
            )
        )
        flow = self._cause(candle.close_time, f"strategy:{name}", str(signal_id), str(signal_id))
        is_market_ask = intent.order_type is OrderType.MARKET and intent.side is OrderSide.ASK
        placement = self.trading.place_strategy_order(
            PlaceOrder(
                client_order_id=str(signal_id),
                strategy_id=name,
                market=self.config.market,
                side=intent.side.value,
                order_type=intent.order_type.value,
                cause=flow,
                price_krw=intent.price_krw,
                volume_btc=intent.volume_btc,
                amount_krw=intent.amount_krw,
                reference_price_krw=candle.close if is_market_ask else None,
            )
        )
        if placement.denial is not None:
            self._deny(track, intent, placement.denial)
            return
        working = PaperOrder(
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
        self.pending.append(working)
        self._submit(working, candle, flow)
        self._refresh(track)

    def _submit(self, order: PaperOrder, candle: Candle, flow: Cause) -> None:
        ack = self.execution.submit(order, candle)
        if ack.exchange_order_id is not None:
            at = ack.accepted_at or candle.close_time
            accepted = self._cause(at, self.execution.actor, flow.causation_id, flow.correlation_id)
            self.trading.accept_order(AcceptOrder(order.order_id, ack.exchange_order_id, accepted))
            order.is_acknowledged = True
        elif ack.refusal is not None:
            code, message = ack.refusal
            refused = self._cause(
                candle.close_time, self.execution.actor, flow.causation_id, flow.correlation_id
            )
            self.trading.reject_order(
                RejectOrder(order.order_id, f"{code}: {message}", "exchange", refused)
            )
            self.pending.remove(order)
            if not order.placed_by_risk:
                notice = OrderEndNotice(
                    order.tag, order.side, OrderEnd.REJECTED, code, message, Decimal(0)
                )
                self.tracks[order.strategy].strategy.on_order_ended(notice)
            self._refresh(self.tracks[order.strategy])
        elif ack.failure is not None:
            failed = self._cause(
                candle.close_time, self.execution.actor, flow.causation_id, flow.correlation_id
            )
            self.trading.record_submission_failure(
                RecordSubmissionFailure(order.order_id, ack.failure, failed)
            )

    def _resubmit_unacknowledged(self, candle: Candle) -> None:
        # An order whose sending had no known outcome is still NEW: ask again at each close.
        for order in [o for o in self.pending if not o.is_acknowledged]:
            if self.trading.get_order(order.order_id).status is OrderStatus.NEW:
                actor = MONITOR_ACTOR if order.placed_by_risk else f"strategy:{order.strategy}"
                flow = self._cause(candle.close_time, actor, order.flow, order.flow)
                self._submit(order, candle, flow)

    def _deny(self, track: StrategyTrack, intent: OrderIntent, denial: RiskError) -> None:
        code = denial.code
        track.denials[code] = track.denials.get(code, 0) + 1
        self._touched.add(track.strategy.name)
        notice = OrderEndNotice(
            intent.tag, intent.side, OrderEnd.REJECTED, code, str(denial), Decimal(0)
        )
        track.strategy.on_order_ended(notice)

    def _cancel_all(self, track: StrategyTrack, reason: str, candle: Candle) -> None:
        name = track.strategy.name
        for order in [o for o in self.pending if o.strategy == name and not o.placed_by_risk]:
            cause = self._cause(
                candle.close_time, f"strategy:{name}", str(order.order_id), order.flow
            )
            self.execution.cancel(order)
            self.trading.cancel_order(CancelOrder(order.order_id, reason, cause))
            self.pending.remove(order)
        self._refresh(track)

    def refresh_books(self) -> None:
        """Read every strategy's book from the ledger (a run that opened with capital)."""
        for track in self.tracks.values():
            self._refresh_book(track)
            track.changes[-1] = (self._index, track.book.cash_krw, track.book.qty_btc)

    def _refresh(self, track: StrategyTrack) -> None:
        self._touched.add(track.strategy.name)
        self._refresh_book(track)
        book, changes = track.book, track.changes
        entry = (self._index, book.cash_krw, book.qty_btc)
        if changes[-1][0] == self._index:
            changes[-1] = entry
        elif (changes[-1][1], changes[-1][2]) != (book.cash_krw, book.qty_btc):
            changes.append(entry)

    def _refresh_book(self, track: StrategyTrack) -> None:
        name = track.strategy.name
        portfolio = self.trading.get_portfolio()
        assert portfolio is not None
        book = portfolio.book(name)
        position = self.trading.get_position(name, self.config.market)
        track.book = StrategyBook(
            cash_krw=book.cash_krw,
            available_krw=book.available_krw,
            qty_btc=position.qty_btc if position else Decimal(0),
            pending_tags=tuple(o.tag for o in self.pending if o.strategy == name),
        )

    @staticmethod
    def _cause(at: datetime, actor: str, causation: str, correlation: str) -> Cause:
        return Cause(
            occurred_at=at, actor=actor, causation_id=causation, correlation_id=correlation
        )
