"""The risk monitor of a backtest: the account marked at each close, its breaches recorded.

At every close, after that candle's fills and before the decisions, the engine asks the
monitor to mark each strategy's book at the close (cash + BTC x close; the account is their
sum), to assess the portfolio limits (`domain/risk/monitor.py`) and to record what crossed
through `Trading.record_breaches`, effective on that candle. The engine applies the state the
breaches moved to: HALTED cancels every open order; REDUCING cancels them and sells every
position at market (these asks are the monitor's own orders), and once nothing is left to sell
the monitor halts. Nothing resumes in a backtest: resuming needs an operator's actor and reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from commands.messages import ChangeTradingState, PlaceOrder, SetRiskLimits
from commands.run_engine.run_model import EngineConfig
from commands.run_engine.working_orders import WorkingOrder
from commands.trading import Trading
from domain.candles.candle import Candle
from domain.candles.tape import CandleTape
from domain.errors import TradingHaltedError, TradingReducingError
from domain.events import Cause
from domain.ids import derive_id
from domain.orders.terms import OrderSide, OrderType
from domain.risk.limits import Limits
from domain.risk.liquidation import is_flat, liquidation_volumes
from domain.risk.monitor import EquityWatch, assess, marked_equity, watches_equity
from domain.risk.trading_state import TradingState
from domain.risk.wake import catch_up, next_crossing

MONITOR_ACTOR = "risk-monitor"
STATE_CODES = {
    TradingState.HALTED: TradingHaltedError("").code,
    TradingState.REDUCING: TradingReducingError("").code,
}
"""The code an order ended by a trading state carries: the same as that state's refusal."""
Holdings = Mapping[str, tuple[Decimal, Decimal]]
"""Each strategy's (cash, BTC held), in the fixed strategy order."""


def monitor_flow(run_id: str) -> str:
    """Return the correlation id of the risk monitor's events and orders in a run."""
    return f"{MONITOR_ACTOR}:{run_id}"


class RiskMonitor:
    """Marks the book at each close and records the breaches; holds the trading state."""

    def __init__(self, trading: Trading, config: EngineConfig) -> None:
        self.trading = trading
        self.limits = config.limits
        self.market = config.market
        self.flow = monitor_flow(config.run_id)
        self.is_watching = watches_equity(self.limits)
        """True when a limit is checked on the marked book; else no close is marked."""
        self.watch = EquityWatch()
        record = trading.get_risk_limits()
        self.state = record.state if record is not None else TradingState.ACTIVE
        """The state the run trades in (a run may open on an account already halted)."""
        self.marked_index = -1

    def take_limits(self, index: int, limits: Limits) -> None:
        """Take limits set during the run; a limit newly watched starts at this close."""
        if not self.is_watching:
            self.watch = EquityWatch()
            self.marked_index = index - 1
        self.limits = limits
        self.is_watching = watches_equity(limits)

    def set_limits(self, cause: Cause) -> None:
        """Record the run's limits on the account's risk record (nothing if it has none)."""
        if self.limits != Limits():
            reason = "the run's risk limits"
            self.trading.set_risk_limits(
                SetRiskLimits(reason=reason, cause=cause, **self.limits.as_fields())
            )

    def close(self, index: int, candle: Candle, holdings: Holdings) -> TradingState | None:
        """Mark the book at the candle's close and record what crossed there.

        Return the trading state the breaches moved to, or None when it did not move.
        """
        if not self.is_watching or self.state is TradingState.HALTED:
            return None
        close = candle.close
        mark = self.watch.mark(
            candle.open_time,
            marked_equity(holdings.values(), close),
            {name: qty * close for name, (_, qty) in holdings.items()},
            self.limits.max_exposure_krw,
        )
        self.marked_index = index
        breaches = assess(self.limits, self.state, mark)
        if not breaches:
            return None
        self.trading.record_breaches(breaches, self.cause(candle))
        risk = self.trading.get_risk_limits()
        assert risk is not None  # the breaches were recorded on it
        if risk.state is self.state:
            return None
        self.state = risk.state
        return self.state

    def halt_if_flat(self, candle: Candle, holdings: Holdings, is_selling: bool) -> bool:
        """While REDUCING, halt once nothing is left to sell; return True if it halted."""
        if self.state is not TradingState.REDUCING or is_selling:
            return False
        limit = self.limits.max_order_krw
        if not all(is_flat(qty, candle.close, limit) for _, qty in holdings.values()):
            return False
        reason = "reduced to flat: no position is left that an order could sell"
        record = self.trading.get_risk_limits()
        if record is None or record.state is not TradingState.HALTED:  # an operator's halt
            self.trading.change_trading_state(  # reaches the run at its next candle
                ChangeTradingState(TradingState.HALTED.value, reason, self.cause(candle))
            )
        self.state = TradingState.HALTED
        return True

    def liquidate(
        self, index: int, candle: Candle, held: Mapping[str, Decimal]
    ) -> list[WorkingOrder]:
        """Place the market asks that sell every strategy's whole position at this close.

        They go through the ledger like any order; their client order ids derive from the
        monitor's cause. Return them, placed, for the engine to send and work.
        """
        cause = self.cause(candle)
        placed: list[WorkingOrder] = []
        for name, qty in held.items():
            volumes = liquidation_volumes(qty, candle.close, self.limits.max_order_krw)
            for n, volume in enumerate(volumes):
                client = derive_id("liquidation", self.flow, cause.causation_id, name, str(n))
                order_id = self.trading.place_order(
                    PlaceOrder(
                        client_order_id=str(client),
                        strategy_id=name,
                        market=self.market,
                        side=OrderSide.ASK.value,
                        order_type=OrderType.MARKET.value,
                        cause=cause,
                        volume_btc=volume,
                        reference_price_krw=candle.close,
                    )
                )
                placed.append(
                    WorkingOrder(
                        order_id=order_id,
                        strategy=name,
                        tag=f"risk-liquidation-{index}-{n}",
                        flow=self.flow,
                        side=OrderSide.ASK,
                        order_type=OrderType.MARKET,
                        price_krw=None,
                        remaining_btc=volume,
                        remaining_krw=Decimal(0),
                        placed_at_index=index,
                        placed_by_risk=True,
                    )
                )
        return placed

    @property
    def reason(self) -> str:
        """Return why trading is in its state, as the risk record says."""
        risk = self.trading.get_risk_limits()
        return risk.state_reason if risk is not None else "no risk record"

    def cause(self, candle: Candle) -> Cause:
        """Return the monitor's cause at a candle: its close time, the candle, the run's flow."""
        return Cause(
            occurred_at=candle.close_time,
            actor=MONITOR_ACTOR,
            causation_id=f"candle:{self.market}:{candle.open_time.isoformat()}",
            correlation_id=self.flow,
        )

    # The fast path: skipped closes are passed over exactly; the next one that matters.
    def catch_up(self, tape: CandleTape, index: int, holdings: Holdings) -> None:
        """Pass the watch over the closes skipped since the last marked one, before `index`."""
        if self.is_watching and self.state is not TradingState.HALTED:
            catch_up(self.watch, tape, self.marked_index + 1, index, holdings)
            self.marked_index = max(self.marked_index, index - 1)

    def wake_after(self, index: int, stop: int, tape: CandleTape, holdings: Holdings) -> int:
        """Return the first close in (index, stop) at which a limit could cross, else stop."""
        floats = {name: (float(cash), float(qty)) for name, (cash, qty) in holdings.items()}
        return next_crossing(index, stop, tape, floats, self.watch, self.limits, self.state)
