"""The account's risk record: its limits and trading state set by operators, and breaches."""

from __future__ import annotations

from collections.abc import Sequence

from commands.messages import ChangeTradingState, SetRiskLimits
from commands.run_records import RunRecords
from domain.errors import UnknownTradingStateError
from domain.events import Cause
from domain.ids import risk_limits_id
from domain.risk.limits import Limits, RiskLimits, TradingState
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

    def set_risk_limits(self, command: SetRiskLimits) -> None:
        """Set the account's risk limits, with actor and reason."""
        limits = Limits.parse(
            max_order_krw=command.max_order_krw,
            max_exposure_krw=command.max_exposure_krw,
            daily_loss_krw=command.daily_loss_krw,
            max_drawdown=command.max_drawdown,
            max_orders_per_minute=command.max_orders_per_minute,
        )

        def attempt() -> None:
            risk = self._risk_or_new(command.cause)
            risk.set_limits(limits, command.reason, command.cause)
            self.save(risk)

        self._retrying(attempt, "set risk limits")

    def change_trading_state(self, command: ChangeTradingState) -> None:
        """Halt, reduce or resume trading, with actor and reason."""
        try:
            to_state = TradingState[command.to_state.upper()]
        except KeyError:
            names = ", ".join(s.value for s in TradingState)
            raise UnknownTradingStateError(
                f"trading state {command.to_state!r} is not one of: {names}"
            ) from None

        def attempt() -> None:
            risk = self._risk_or_new(command.cause)
            risk.change_state(to_state, command.reason, command.cause)
            self.save(risk)

        self._retrying(attempt, f"change trading state to {to_state.value}")

    def get_risk_limits(self) -> RiskLimits | None:
        """Return the account's risk record, or None before the account was opened."""
        return self._find(risk_limits_id(self.account), RiskLimits)

    def _risk_or_new(self, cause: Cause) -> RiskLimits:
        return self.get_risk_limits() or RiskLimits.create(account=self.account, cause=cause)
