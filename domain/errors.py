"""The domain's refusals: one rooted hierarchy of errors, each named for the rule it guards.

A `DomainError` is raised in the decide step of a command, before any event exists, so a
refused command appends nothing (style S4.1). Messages name the offending value and the rule.
"""

from __future__ import annotations

import re


class DomainError(Exception):
    """A command broke a rule of the domain; nothing was recorded."""

    @property
    def code(self) -> str:
        """Return a stable machine-readable code derived from the class name."""
        name = type(self).__name__.removesuffix("Error")
        return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class ValueRuleError(DomainError):
    """A value (amount, price, market, time, text) is malformed or out of its allowed range."""


class InvalidAmountError(ValueRuleError):
    """A money amount or quantity is not a finite positive decimal of the allowed precision."""


class UnknownMarketError(ValueRuleError):
    """A market code is malformed or not one of the markets this ledger trades."""


class PriceOffTickError(ValueRuleError):
    """A limit price is not a multiple of the Upbit tick size for its price band."""


class OrderBelowMinimumTotalError(ValueRuleError):
    """An order's total is below Upbit's minimum order total."""


class OrderAboveMaximumTotalError(ValueRuleError):
    """An order's total is above Upbit's maximum order total."""


class InvalidOrderShapeError(ValueRuleError):
    """An order's side, type, price, volume and amount do not form a valid Upbit order."""


class InvalidDomainTimeError(ValueRuleError):
    """A domain time is naive (no time zone) or otherwise unusable."""


class InvalidCandleError(ValueRuleError):
    """A candle breaks the candle rules (minute-aligned, positive, bounded, ordered)."""


class InvalidStrategyParameterError(ValueRuleError):
    """A strategy parameter is unknown or out of its allowed range."""


class CandleConflictError(ValueRuleError):
    """A candle differs from the one already recorded for the same minute."""


class InvalidRunError(ValueRuleError):
    """A run's inputs are incomplete: an unknown mode, no strategies or no candles."""


class RunAlreadyCompletedError(DomainError):
    """A run that was completed cannot be completed again."""


class MissingTextError(ValueRuleError):
    """A required text (actor, reason, identifier) is empty."""


class InvalidIdentifierError(ValueRuleError):
    """A strategy id or client order id holds a character outside the identifier alphabet."""


class OrderError(DomainError):
    """A command broke a rule of the order lifecycle."""


class IllegalOrderTransitionError(OrderError):
    """The order's state machine has no transition for this trigger in the current state."""


class DuplicateOrderError(OrderError):
    """An order with the same client order id (hence the same order id) already exists."""


class DuplicateSignalError(OrderError):
    """A signal with the same id (run, strategy, candle, rank) is already recorded."""


class FillExceedsOrderError(OrderError):
    """A fill would execute more than the order's remaining volume or KRW amount."""


class FeeAboveRateError(OrderError):
    """A fill's fee is more than its total x the account's fee rate (rounded up to the won)."""


class FillBeyondLimitPriceError(OrderError):
    """A fill of a limit order is priced worse than its limit (a bid above, an ask below)."""


class UnknownTradingStateError(ValueRuleError):
    """A trading state name is not ACTIVE, REDUCING or HALTED."""


class ConflictingFillError(OrderError):
    """A trade id already recorded on the order arrived again with different figures."""


class LedgerError(DomainError):
    """A command broke a rule of the cash ledger (capital, reservations, holdings)."""


class UnknownStrategyError(LedgerError):
    """No capital has been allocated to the strategy."""


class InsufficientCashError(LedgerError):
    """The strategy's available cash does not cover the order with its fee."""


class InsufficientPositionError(LedgerError):
    """The strategy does not hold enough unreserved BTC to sell."""


class RiskError(DomainError):
    """A command broke a risk limit or the trading state."""


class InvalidRiskLimitError(RiskError):
    """A risk limit value is out of its allowed range."""


class TradingHaltedError(RiskError):
    """Trading is HALTED: no order may be placed."""


class TradingReducingError(RiskError):
    """Trading is REDUCING: only orders that reduce exposure (asks) may be placed."""


class OrderNotionalLimitError(RiskError):
    """An order's notional is above the per-order maximum."""


class ExposureLimitError(RiskError):
    """An order would take the strategy's exposure above its maximum."""


class DailyLossLimitReachedError(RiskError):
    """The day's loss has reached the daily loss limit: no new buying today."""


class SubmitRateLimitError(RiskError):
    """The account placed as many orders as its limit allows in the trailing minute."""


class TradingStateUnchangedError(RiskError):
    """The requested trading state is the current one."""


class ReconciliationError(DomainError):
    """A reconciliation rule refused a command."""


class ReconciliationAcknowledgementError(ReconciliationError):
    """Only a reconciliation with an unexplained difference is acknowledged, and only once."""


class ReconciliationNotApplicableError(ReconciliationError):
    """A paper run has no exchange to reconcile with."""


class InvalidExportSelectionError(ValueRuleError):
    """An audit export's range or filter is malformed, empty or reversed."""
