"""A change of the account's risk record made outside a run, which the run applies at a candle.

An operator (or reconciliation) sets the limits, halts, reduces or resumes trading at some
moment of the wall clock; a trading run decides candle by candle. So that a run re-processed
after a restart, and a backtest that checks its parity, apply the change exactly where the run
did, the change takes effect at the first candle that the log recorded after it, at that
candle's close, after its fills and before the risk monitor and the decisions.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.events import Cause, LedgerEvent
from domain.risk.limits import Limits, RiskLimits
from domain.risk.trading_state import TradingState


@dataclass(frozen=True)
class RiskDirective:
    """New limits, or a new trading state, with the reason and cause they were recorded with."""

    reason: str
    cause: Cause
    limits: Limits | None = None
    state: TradingState | None = None

    @classmethod
    def from_event(cls, event: object) -> RiskDirective | None:
        """Return the directive a risk record event carries, or None (e.g. a breach)."""
        if isinstance(event, RiskLimits.LimitsSet):
            return cls(event.reason, _cause(event), limits=event.limits)
        if isinstance(
            event, RiskLimits.TradingHalted | RiskLimits.TradingReduced | RiskLimits.TradingResumed
        ):
            return cls(event.reason, _cause(event), state=event.to_state)
        return None


def _cause(event: LedgerEvent) -> Cause:
    return Cause(
        occurred_at=event.occurred_at,
        actor=event.actor,
        causation_id=event.causation_id,
        correlation_id=event.correlation_id,
    )
