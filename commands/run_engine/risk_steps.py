"""The engine's risk steps: the monitor at each close, and what a trading state ends.

Between a candle's fills and its decisions the risk monitor marks the book at the close and
records what crossed a limit (`commands/run_engine/risk_monitor.py`); the engine applies the
state the breaches moved to: HALTED cancels every open order, REDUCING cancels them and sells
every position at market, and the monitor halts once nothing is left to sell. A change made
outside the run (`domain/risk/directive.py`) is applied the same way at the candle it reaches.
"""

from __future__ import annotations

from collections.abc import Sequence

from commands.messages import AllocateCapital, CancelOrder, ChangeTradingState, SetRiskLimits
from commands.run_engine.order_steps import OrderSteps
from commands.run_engine.risk_monitor import STATE_CODES
from domain.candles.candle import Candle
from domain.risk.directive import RiskDirective
from domain.risk.trading_state import TradingState
from domain.strategies.base import OrderEnd, OrderEndNotice


class RiskSteps(OrderSteps):
    """Allocates the run's capital and limits, and applies the risk monitor at each close."""

    def _allocate(self, candle: Candle) -> None:
        cause = self._cause(candle.open_time, "backtest", "allocation", "allocation")
        for name in self.tracks:
            self.trading.allocate_capital(AllocateCapital(name, self.config.capital_krw, cause))
        self.risk.set_limits(cause)

    def _apply_directives(
        self, index: int, candle: Candle, directives: Sequence[RiskDirective]
    ) -> None:
        # Changes made outside the run (an operator, reconciliation), at the first candle the
        # log recorded after them. A trading run reads them from its own log, which holds them
        # already; a backtest of the run (`ledger parity`) records them on its risk record with
        # their own cause (`records_directives`).
        for directive in directives:
            if directive.limits is not None and self.records_directives:
                self.trading.set_risk_limits(
                    SetRiskLimits(
                        reason=directive.reason,
                        cause=directive.cause,
                        **directive.limits.as_fields(),
                    )
                )
            if directive.limits is not None:
                self.risk.take_limits(index, directive.limits)
            state = directive.state
            if state is not None and state is not self.risk.state:
                if self.records_directives:
                    self.trading.change_trading_state(
                        ChangeTradingState(state.value, directive.reason, directive.cause)
                    )
                self.risk.state = state
                self._enter(index, candle, state)

    def _monitor(self, index: int, candle: Candle) -> None:
        moved = self.risk.close(index, candle, self._holdings())
        if moved is not None:
            self._enter(index, candle, moved)
        is_selling = any(o.placed_by_risk for o in self.pending)
        if self.risk.halt_if_flat(candle, self._holdings(), is_selling):
            self._end_all(candle, TradingState.HALTED)

    def _enter(self, index: int, candle: Candle, state: TradingState) -> None:
        # HALTED ends every open order; REDUCING ends them and sells every position.
        if state is TradingState.ACTIVE:
            return
        self._end_all(candle, state)
        if state is TradingState.REDUCING:
            held = {name: track.book.qty_btc for name, track in self.tracks.items()}
            for order in self.risk.liquidate(index, candle, held):
                self.pending.append(order)
                self._submit(order, candle, self.risk.cause(candle))
            for track in self.tracks.values():
                self._refresh(track)

    def _end_all(self, candle: Candle, state: TradingState) -> None:
        # A halt or a reduce cancels every open order at the close that crossed the limit.
        reason = f"risk monitor: trading {state.value} ({self.risk.reason})"
        cause = self.risk.cause(candle)
        for order in list(self.pending):
            if order.is_acknowledged:
                self.execution.cancel(order)
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
