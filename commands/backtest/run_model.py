"""What a backtest run is made of: its config, its in-memory store and each strategy's track."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from uuid import UUID

from domain.fills.paper_fill_model import FillModel
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


@dataclass(frozen=True)
class EngineConfig:
    """The run's id, market, capital per strategy and fill model."""

    run_id: str
    capital_krw: Decimal
    fill_model: FillModel
    market: str = "KRW-BTC"
