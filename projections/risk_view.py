"""Risk state and limit history per account: `rm_risk_state` now, `rm_risk_history` always."""

from __future__ import annotations

from typing import ClassVar

from domain.event_names import bus_name
from domain.events import LedgerEvent
from domain.risk.limits import RiskLimits
from domain.risk.trading_state import TradingState
from projections.projection import Projection
from projections.rows import Insert, RowOp, Update

STATE_AFTER: dict[type[LedgerEvent], TradingState] = {
    RiskLimits.TradingHalted: TradingState.HALTED,
    RiskLimits.TradingReduced: TradingState.REDUCING,
    RiskLimits.TradingResumed: TradingState.ACTIVE,
}


class RiskProjection(Projection):
    """The current limits and trading state, and one history row per change."""

    name: ClassVar[str] = "risk"
    tables: ClassVar[tuple[str, ...]] = ("rm_risk_state", "rm_risk_history")

    def rows(self, event: LedgerEvent, position: int) -> list[RowOp]:
        """Return the rows of a risk event; nothing for others."""
        risk_id = event.originator_id
        envelope = {"updated_at": event.occurred_at, "changed_by": event.actor}
        history: dict[str, object] = {
            "position": position,
            "risk_id": risk_id,
            "bus_name": bus_name(event),
            "actor": event.actor,
            "changed_at": event.occurred_at,
        }
        match event:
            case RiskLimits.Created():
                state = {"trading_state": TradingState.ACTIVE.value, "reason": "created"}
                row = {"risk_id": risk_id, "account": event.account, **state, **envelope}
                return [
                    Insert("rm_risk_state", row),
                    Insert("rm_risk_history", {**history, **state}),
                ]
            case RiskLimits.LimitsSet():
                limits = event.limits.as_fields()
                changes = {**limits, "reason": event.reason, **envelope}
                return [
                    Update("rm_risk_state", {"risk_id": risk_id}, changes),
                    Insert("rm_risk_history", {**history, **limits, "reason": event.reason}),
                ]
            case RiskLimits.LimitBreached():
                found = f"{event.limit} breached: {event.measured} against {event.threshold}"
                if event.strategy_id:
                    found += f" (strategy {event.strategy_id})"
                note = f"{found}, {event.action}, candle {event.candle_open_time.isoformat()}"
                return [Insert("rm_risk_history", {**history, "reason": note})]
        to_state = STATE_AFTER.get(type(event))
        if to_state is None:
            return []
        reason = getattr(event, "reason", None)
        changed: dict[str, object] = {"trading_state": to_state.value, "reason": reason}
        return [
            Update("rm_risk_state", {"risk_id": risk_id}, {**changed, **envelope}),
            Insert("rm_risk_history", {**history, **changed}),
        ]
