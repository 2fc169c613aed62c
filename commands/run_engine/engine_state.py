"""The engine's state: the strategies' tracks, the working orders, the books from the ledger.

`RunEngine` (`commands/run_engine/engine.py`: the drivers) holds this state and two
collaborators that act on it, one concept each: `OrderSteps` (the orders' placing, sending,
fills and ends) and `RiskSteps` (the risk monitor at each close).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from commands.risk.run_monitor import Holdings, RiskMonitor
from commands.run_engine.execution import Execution
from commands.run_engine.paper_execution import PaperExecution
from commands.run_engine.run_model import STRATEGY_ORDER, EngineConfig, StrategyTrack
from commands.run_engine.working_orders import WorkingOrder
from commands.trading import Trading
from domain.candles.candle import Candle
from domain.events import Cause
from domain.strategies.base import Strategy, StrategyBook


class EngineState:
    """The run's tracks, its working orders and risk monitor; each book as the ledger says."""

    def __init__(
        self,
        trading: Trading,
        strategies: Sequence[Strategy],
        config: EngineConfig,
        execution: Execution | None = None,
        *,
        allocates: bool = True,
    ):
        names = [s.name for s in strategies]
        unknown = [n for n in names if n not in STRATEGY_ORDER]
        if unknown or len(set(names)) != len(names):
            raise ValueError(f"strategies {names} must be distinct names of {STRATEGY_ORDER}")
        self.trading = trading
        self.config = config
        self.execution: Execution = execution or PaperExecution(config.fill_model)
        self.allocates = allocates
        """Allocate the capital at the first candle (a backtest); a trading run opens funded."""
        self.records_directives = True
        """Record outside risk changes given to `process` (a backtest's); a trading run's log
        holds them already."""
        empty = StrategyBook(config.capital_krw, config.capital_krw, Decimal(0), ())
        self.tracks = {
            s.name: StrategyTrack(s, empty, [(0, config.capital_krw, Decimal(0))])
            for s in sorted(strategies, key=lambda s: STRATEGY_ORDER.index(s.name))
        }
        self.pending: list[WorkingOrder] = []
        self.risk = RiskMonitor(trading, config)
        self.candles = 0
        self.closes: npt.NDArray[np.float64] = np.zeros(0)
        self.first_time: datetime | None = None
        self.last_candle: Candle | None = None
        self.session_end_indexes: list[int] = []
        self.index = 0
        self.touched: set[str] = set()
        self.strategy_wake: dict[str, int] = {}
        """Strategies that acted or had a fill at the candle being processed."""

    def refresh_books(self) -> None:
        """Read every strategy's book from the ledger (a run that opened with capital)."""
        for track in self.tracks.values():
            self.refresh_book(track)
            track.changes[-1] = (self.index, track.book.cash_krw, track.book.qty_btc)

    def refresh(self, track: StrategyTrack) -> None:
        """Read a strategy's book again after the run changed it; note the change."""
        self.touched.add(track.strategy.name)
        self.refresh_book(track)
        book, changes = track.book, track.changes
        entry = (self.index, book.cash_krw, book.qty_btc)
        if changes[-1][0] == self.index:
            changes[-1] = entry
        elif (changes[-1][1], changes[-1][2]) != (book.cash_krw, book.qty_btc):
            changes.append(entry)

    def refresh_book(self, track: StrategyTrack) -> None:
        """Read a strategy's book (cash, cash not locked, BTC held) from the ledger."""
        name = track.strategy.name
        portfolio = self.trading.get_portfolio()
        assert portfolio is not None
        book = portfolio.book(name)
        position = self.trading.get_position(name, self.config.market)
        track.book = StrategyBook(
            cash_krw=book.cash_krw,
            available_krw=book.available_krw,
            qty_btc=position.qty_btc if position else Decimal(0),
            pending_tags=tuple(o.tag for o in self.pending if o.strategy == name),
        )

    def holdings(self) -> Holdings:
        """Return each strategy's (cash, BTC held)."""
        return {name: (t.book.cash_krw, t.book.qty_btc) for name, t in self.tracks.items()}

    @staticmethod
    def cause(at: datetime, actor: str, causation: str, correlation: str) -> Cause:
        """Return the cause of an event the run records."""
        return Cause(
            occurred_at=at, actor=actor, causation_id=causation, correlation_id=correlation
        )
