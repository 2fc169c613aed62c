"""What a backtest run is made of: its config, its in-memory store and each strategy's track."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from uuid import UUID

import numpy as np
import numpy.typing as npt

from domain.fills.paper_fill_model import FillModel
from domain.risk.limits import Limits
from domain.strategies.base import Strategy, StrategyBook

IN_MEMORY_ENV = {
    "PERSISTENCE_MODULE": "eventsourcing.popo",
    # A backtest aborts on the first refused command, so the cached aggregates it reads need
    # not be copied first (deep copies of the cash ledger cost a third of the run otherwise).
    "DEEPCOPY_FROM_AGGREGATE_CACHE": "n",
}
"""The event store of an in-memory backtest."""

STRATEGY_ORDER = ("volatility_breakout", "grid", "turtle")
"""Decisions at one close run in this order, whatever order the strategies are named in."""


@dataclass(frozen=True)
class FillRecord:
    """One paper fill of one strategy, for reports."""

    time: datetime
    side: str
    price_krw: Decimal
    qty_btc: Decimal
    fee_krw: Decimal
    order_id: UUID


@dataclass
class StrategyTrack:
    """A strategy, its current book, and what the run recorded of it."""

    strategy: Strategy
    book: StrategyBook
    changes: list[tuple[int, Decimal, Decimal]] = field(default_factory=list)
    """(index, cash, BTC held) from each candle at which the book changed."""
    fills: list[FillRecord] = field(default_factory=list)
    denials: dict[str, int] = field(default_factory=dict)
    """Orders of the strategy that a pre-trade risk rule refused, by the rule's code."""

    def segments(self, candles: int) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Return the cash and the BTC held at each of the first `candles` closes, as floats."""
        cash, qty = np.empty(candles), np.empty(candles)
        changes = self.changes
        for k, (start, c, q) in enumerate(changes):
            stop = changes[k + 1][0] if k + 1 < len(changes) else candles
            cash[start:stop], qty[start:stop] = float(c), float(q)
        return cash, qty


@dataclass(frozen=True)
class EngineConfig:
    """The run's id, market, capital per strategy, fill model and risk limits."""

    run_id: str
    capital_krw: Decimal
    fill_model: FillModel
    market: str = "KRW-BTC"
    limits: Limits = Limits()
    """The account's risk limits for the run (none by default)."""
