"""A scratch ledger: an empty in-memory one for a backtest, a replay or a parity check.

The composition root hands it out (`api.bootstrap.scratch_ledger`): no use case builds a ledger
of its own.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

from commands.trading import Trading
from domain.market import DEFAULT_MARKETS


class ScratchLedger(Protocol):
    """Make an empty in-memory ledger."""

    def __call__(
        self, account: str, fee_rate: Decimal, markets: frozenset[str] = DEFAULT_MARKETS
    ) -> Trading:
        """Return an empty ledger of `account` with this fee rate and these markets."""
        ...
