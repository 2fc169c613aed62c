"""The risk monitor's use case: record the breaches found at a candle close and their actions."""

from __future__ import annotations

from collections.abc import Sequence

from commands.run_records import RunRecords
from domain.events import Cause
from domain.ids import risk_limits_id
from domain.risk.limits import RiskLimits
from domain.risk.monitor import Breach


class RiskMonitoring(RunRecords):
    """The account's risk record, and the breaches of its portfolio limits recorded on it."""

    def record_breaches(self, breaches: Sequence[Breach], cause: Cause) -> None:
        """Record each breach and the state change its action implies, in one transaction."""
        if not breaches:
            return

        def attempt() -> None:
            risk = self._risk_or_new(cause)
            for breach in breaches:
                risk.record_breach(breach, cause)
            self.save(risk)

        self._retrying(attempt, "record risk limit breaches")

    def get_risk_limits(self) -> RiskLimits | None:
        """Return the account's risk record, or None before the account was opened."""
        return self._find(risk_limits_id(self.account), RiskLimits)

    def _risk_or_new(self, cause: Cause) -> RiskLimits:
        return self.get_risk_limits() or RiskLimits.create(account=self.account, cause=cause)
