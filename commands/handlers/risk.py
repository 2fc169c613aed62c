"""Use cases of the account's risk record: limits, trading state, and breaches of limits.

Operators set the limits and the state; the monitor records the breaches it finds.
"""

from __future__ import annotations

from collections.abc import Sequence

from commands.ledger_port import Ledger
from commands.messages import ChangeTradingState, SetRiskLimits
from domain.errors import UnknownTradingStateError
from domain.events import Cause
from domain.ids import risk_limits_id
from domain.risk.breach import Breach
from domain.risk.limits import Limits, RiskLimits
from domain.risk.trading_state import TradingState


def get_risk_limits(ledger: Ledger) -> RiskLimits | None:
    """Return the account's risk record, or None before the account was opened."""
    return ledger.find(risk_limits_id(ledger.account), RiskLimits)


def risk_or_new(ledger: Ledger, cause: Cause) -> RiskLimits:
    """Return the account's risk record, created (not yet saved) when there is none."""
    return get_risk_limits(ledger) or RiskLimits.create(account=ledger.account, cause=cause)


def record_breaches(ledger: Ledger, breaches: Sequence[Breach], cause: Cause) -> None:
    """Record each breach and the state change its action implies, in one transaction."""
    if not breaches:
        return

    def attempt() -> None:
        risk = risk_or_new(ledger, cause)
        for breach in breaches:
            risk.record_breach(breach, cause)
        ledger.save(risk)

    ledger.retrying(attempt, "record risk limit breaches")


def set_risk_limits(ledger: Ledger, command: SetRiskLimits) -> None:
    """Set the account's risk limits, with actor and reason."""
    limits = Limits.parse(
        max_order_krw=command.max_order_krw,
        max_exposure_krw=command.max_exposure_krw,
        daily_loss_krw=command.daily_loss_krw,
        max_drawdown=command.max_drawdown,
        max_orders_per_minute=command.max_orders_per_minute,
    )

    def attempt() -> None:
        risk = risk_or_new(ledger, command.cause)
        risk.set_limits(limits, command.reason, command.cause)
        ledger.save(risk)

    ledger.retrying(attempt, "set risk limits")


def change_trading_state(ledger: Ledger, command: ChangeTradingState) -> None:
    """Halt, reduce or resume trading, with actor and reason."""
    try:
        to_state = TradingState[command.to_state.upper()]
    except KeyError:
        names = ", ".join(s.value for s in TradingState)
        raise UnknownTradingStateError(
            f"trading state {command.to_state!r} is not one of: {names}"
        ) from None

    def attempt() -> None:
        risk = risk_or_new(ledger, command.cause)
        risk.change_state(to_state, command.reason, command.cause)
        ledger.save(risk)

    ledger.retrying(attempt, f"change trading state to {to_state.value}")
