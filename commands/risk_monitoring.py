"""The risk monitor's use case: record the breaches found at a candle close and their actions."""

from __future__ import annotations

from collections.abc import Sequence

from commands.run_records import RunRecords
from domain.events import Cause
from domain.ids import risk_limits_id
from domain.risk.limits import RiskLimits
from domain.risk.monitor import Breach


class RiskMonitoring(RunRecords):
    """Breaches of the account's portfolio limits, recorded on its RiskLimits aggregate."""

    def record_breaches(self, breaches: Sequence[Breach], cause: Cause) -> None:
        """Record each breach and the state change its action implies, in one transaction."""
        if not breaches:
            return

        def attempt() -> None:
            risk = self._risk_record(cause)
            for breach in breaches:
                risk.record_breach(breach, cause)
            self.save(risk)

        self._retrying(attempt, "record risk limit breaches")

    def _risk_record(self, cause: Cause) -> RiskLimits:
        found = self._find(risk_limits_id(self.account), RiskLimits)
        return found or RiskLimits.create(account=self.account, cause=cause)
