"""The balance rule of reconciliation: the exchange's totals against baseline plus the ledger.

At a run's first reconciliation the exchange's totals (free + locked, KRW and the market's base
currency) are recorded as its baseline, beside the ledger's figures for the run's strategies (cash;
BTC held) and the effect of trades the exchange has and the log has not recorded yet. Later, the
exchange must hold the baseline plus what the ledger (and such trades) changed since, exactly:
fees are exact Decimals, so the tolerance is zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from domain.reconciliation.difference import Difference, DifferenceKind

TOLERANCE = Decimal(0)
"""No rounding is allowed for: the ledger and the exchange count the same exact trades."""


@dataclass(frozen=True)
class BookFigures:
    """One side's view of the run's money: KRW and base-currency totals."""

    krw: Decimal
    base: Decimal


@dataclass(frozen=True)
class BalanceSnapshot:
    """What one reconciliation saw: the exchange's totals, the ledger's, the unrecorded trades'."""

    exchange: BookFigures
    ledger: BookFigures
    unrecorded: BookFigures

    @property
    def implied(self) -> BookFigures:
        """Return the ledger's figures with the trades it has not recorded yet."""
        return BookFigures(
            self.ledger.krw + self.unrecorded.krw, self.ledger.base + self.unrecorded.base
        )


def balance_differences(
    now: BalanceSnapshot, baseline: BalanceSnapshot, *, base_currency: str, baseline_name: str
) -> list[Difference]:
    """Return a BALANCE_MISMATCH per currency whose exchange total is not the expected one.

    Expected = the baseline's exchange total + (implied ledger now - implied ledger then).
    """
    rows = (
        ("KRW", now.exchange.krw, baseline.exchange.krw, now.implied.krw - baseline.implied.krw),
        (
            base_currency,
            now.exchange.base,
            baseline.exchange.base,
            now.implied.base - baseline.implied.base,
        ),
    )
    found = []
    for currency, actual, at_baseline, changed in rows:
        expected = at_baseline + changed
        if abs(actual - expected) > TOLERANCE:
            found.append(
                Difference.of(
                    DifferenceKind.BALANCE_MISMATCH,
                    order_id=None,
                    exchange_says=f"{currency} {actual} (free + locked)",
                    log_says=f"{currency} {expected}: {at_baseline} at the {baseline_name}, "
                    f"{changed:+} by the run's fills since",
                    explanation=f"{currency} differs by {actual - expected:+}; no trade of the "
                    "run explains it (a deposit, a withdrawal, a trade by someone else?)",
                )
            )
    return found
