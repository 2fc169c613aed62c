"""A difference between the exchange and the log, its kind, and whether it is explained."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class DifferenceKind(Enum):
    """What differs; each kind is explained or not by its nature (see `is_explained_kind`)."""

    ACKNOWLEDGEMENT_MISSING = "acknowledgement_missing"
    """The log holds the order NEW; the exchange has it (the answer was lost)."""
    FILLS_MISSING = "fills_missing"
    """The exchange has trades of a working order that the log has not recorded yet."""
    END_MISSING = "end_missing"
    """The exchange ended an order (done, cancel) that the log holds as working."""
    ORDER_MISSING_AT_EXCHANGE = "order_missing_at_exchange"
    """The log holds an order OPEN or PARTIAL that the exchange does not have."""
    FILL_MISMATCH = "fill_mismatch"
    """A trade the log recorded is not the exchange's (other figures, or no such trade)."""
    UNKNOWN_OPEN_ORDER = "unknown_open_order"
    """An order works at the exchange that the log does not know as one of the run's."""
    ENDED_ORDER_OPEN = "ended_order_open"
    """An order works at the exchange that the log holds as ended."""
    BALANCE_MISMATCH = "balance_mismatch"
    """A currency's total at the exchange is not what the baseline and the ledger imply."""


EXPLAINED_KINDS = frozenset(
    {
        DifferenceKind.ACKNOWLEDGEMENT_MISSING,
        DifferenceKind.FILLS_MISSING,
        DifferenceKind.END_MISSING,
    }
)
"""The kinds the run itself catches up on: it takes the exchange's answer at its next candle."""


@dataclass(frozen=True)
class Difference:
    """One difference: what the exchange says, what the log says, and why (if known)."""

    kind: DifferenceKind
    order_id: str | None
    exchange_says: str
    log_says: str
    is_explained: bool
    explanation: str

    @classmethod
    def of(
        cls,
        kind: DifferenceKind,
        *,
        order_id: str | None,
        exchange_says: str,
        log_says: str,
        explanation: str,
    ) -> Difference:
        """Return a difference explained or not by its kind."""
        return cls(kind, order_id, exchange_says, log_says, kind in EXPLAINED_KINDS, explanation)

    def accepted(self, note: str) -> Difference:
        """Return this difference as explained by an operator's earlier acknowledgement."""
        return Difference(self.kind, self.order_id, self.exchange_says, self.log_says, True, note)

    def describe(self) -> str:
        """Return the difference in one line."""
        about = f" of order {self.order_id}" if self.order_id else ""
        return (
            f"{self.kind.value}{about}: exchange says {self.exchange_says}; "
            f"log says {self.log_says}"
        )
