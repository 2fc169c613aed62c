"""The changes of the account's risk record made outside a run, each at the candle it applies to.

A run's own risk events (the risk monitor's breaches, halts and liquidations) carry the run's
monitor flow as correlation id; every other change of the account's risk record after the run
opened (an operator's limits, halt, reduce or resume; a reconciliation's halt) is a
`RiskDirective` that the run applies at the first candle the log recorded after it
(`domain/risk/directive.py`).
"""

from __future__ import annotations

from commands.risk.run_monitor import monitor_flow
from commands.trading import Trading
from domain.events import LedgerEvent
from domain.ids import risk_limits_id
from domain.risk.directive import RiskDirective
from domain.risk.limits import RiskLimits

RISK_TOPICS = [
    RiskLimits.LimitsSet.TOPIC,
    RiskLimits.TradingHalted.TOPIC,
    RiskLimits.TradingReduced.TOPIC,
    RiskLimits.TradingResumed.TOPIC,
]


class OutsideRiskChanges:
    """Reads, in log order, the risk record changes a run did not make itself."""

    def __init__(self, log: Trading, *, account: str, run_id: str, after: int) -> None:
        """`after`: the log position of the run's opening (what precedes it is the run's seed)."""
        self.log = log
        self.record_id = risk_limits_id(account)
        self.flow = monitor_flow(run_id)
        self.position = after

    def before(self, position: int) -> list[RiskDirective]:
        """Return the changes recorded after the last call and before the log `position`."""
        if position - 1 <= self.position:
            return []
        found: list[RiskDirective] = []
        for at, event in self.log.read_events(RISK_TOPICS, after=self.position, upto=position - 1):
            self.position = at
            if not isinstance(event, LedgerEvent) or event.originator_id != self.record_id:
                continue
            if event.correlation_id == self.flow:
                continue
            directive = RiskDirective.from_event(event)
            if directive is not None:
                found.append(directive)
        self.position = max(self.position, position - 1)
        return found
