"""The engine's risk steps: the monitor at each close, and what a trading state ends.

Between a candle's fills and its decisions the risk monitor marks the book at the close and
records what crossed a limit (`commands/risk/run_monitor.py`); the engine applies the
state the breaches moved to: HALTED cancels every open order, REDUCING cancels them and sells
every position at market, and the monitor halts once nothing is left to sell. A change made
outside the run (`domain/risk/directive.py`) is applied the same way at the candle it reaches.
"""

from __future__ import annotations

from collections.abc import Sequence

from commands.messages import AllocateCapital, CancelOrder, ChangeTradingState, SetRiskLimits
from commands.risk.run_monitor import STATE_CODES
from commands.run_engine.engine_state import EngineState
from commands.run_engine.order_steps import OrderSteps
from domain.candles.candle import Candle
from domain.risk.directive import RiskDirective
from domain.risk.trading_state import TradingState
from domain.strategies.base import OrderEnd, OrderEndNotice


class RiskSteps:
    """Allocates the run's capital and limits, and applies the risk monitor at each close."""

    def __init__(self, state: EngineState, orders: OrderSteps) -> None:
        self.state = state
        self.orders = orders

    def allocate(self, candle: Candle) -> None:
        """Allocate each strategy's capital and record the run's limits (a backtest)."""
        cause = self.state.cause(candle.open_time, "backtest", "allocation", "allocation")
        for name in self.state.tracks:
            self.state.trading.allocate_capital(
                AllocateCapital(name, self.state.config.capital_krw, cause)
            )
        self.state.risk.set_limits(cause)

    def apply_directives(
        self, index: int, candle: Candle, directives: Sequence[RiskDirective]
    ) -> None:
        """Apply the risk record's changes made outside the run that reach this candle."""
        # Changes made outside the run (an operator, reconciliation), at the first candle the
        # log recorded after them. A trading run reads them from its own log, which holds them
        # already; a backtest of the run (`ledger parity`) records them on its risk record with
        # their own cause (`records_directives`).
        for directive in directives:
            if directive.limits is not None and self.state.records_directives:
                self.state.trading.set_risk_limits(
                    SetRiskLimits(
                        reason=directive.reason,
                        cause=directive.cause,
                        **directive.limits.as_fields(),
                    )
                )
            if directive.limits is not None:
                self.state.risk.take_limits(index, directive.limits)
            state = directive.state
            if state is not None and state is not self.state.risk.state:
                if self.state.records_directives:
                    self.state.trading.change_trading_state(
                        ChangeTradingState(state.value, directive.reason, directive.cause)
                    )
                self.state.risk.state = state
                self.enter(index, candle, state)

    def monitor(self, index: int, candle: Candle) -> None:
        """Mark the book at the close, apply what crossed a limit, halt once flat."""
        moved = self.state.risk.close(index, candle, self.state.holdings())
        if moved is not None:
            self.enter(index, candle, moved)
        is_selling = any(o.placed_by_risk for o in self.state.pending)
        if self.state.risk.halt_if_flat(candle, self.state.holdings(), is_selling):
            self.end_all(candle, TradingState.HALTED)

    def enter(self, index: int, candle: Candle, state: TradingState) -> None:
        """Apply a trading state: HALTED ends every order, REDUCING also sells all."""
        # HALTED ends every open order; REDUCING ends them and sells every position.
        if state is TradingState.ACTIVE:
            return
        self.end_all(candle, state)
        if state is TradingState.REDUCING:
            held = {name: track.book.qty_btc for name, track in self.state.tracks.items()}
            for order in self.state.risk.liquidate(index, candle, held):
                self.state.pending.append(order)
                self.orders.submit(order, candle, self.state.risk.cause(candle))
            for track in self.state.tracks.values():
                self.state.refresh(track)

    def end_all(self, candle: Candle, state: TradingState) -> None:
        """Cancel every working order: the trading state ended them."""
        # A halt or a reduce cancels every open order at the close that crossed the limit.
        reason = f"risk monitor: trading {state.value} ({self.state.risk.reason})"
        cause = self.state.risk.cause(candle)
        for order in list(self.state.pending):
            if order.is_acknowledged:
                self.state.execution.cancel(order)
            self.state.trading.cancel_order(CancelOrder(order.order_id, reason, cause))
            self.state.pending.remove(order)
            track = self.state.tracks[order.strategy]
            self.state.refresh(track)
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
