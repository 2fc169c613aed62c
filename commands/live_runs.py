"""The use case that opens a run of the trading system (paper or live) and funds its strategies."""

from __future__ import annotations

from dataclasses import fields

from commands.errors import DuplicateRunError
from commands.messages import OpenRun
from commands.risk_monitoring import RiskMonitoring
from domain.ids import portfolio_id
from domain.market import parse_market
from domain.portfolio.ledger import Portfolio
from domain.strategies.run import StrategyRun, run_aggregate_id


class LiveRuns(RiskMonitoring):
    """Runs of the trading system: opened once, then resumed by every restart."""

    def open_run(self, command: OpenRun) -> None:
        """Record `strategy.run.opened` and allocate its capital to each strategy without any.

        A strategy that already has capital in the account keeps its book (cash, positions)
        from before: the run trades on with it. Run, account and capital are one transaction.

        Raises:
            DuplicateRunError: a run with this id is already recorded.
            InvalidRunError: a bad mode, exchange, strategy list or first candle.
        """
        if self.get_run(command.run_id) is not None:
            raise DuplicateRunError(f"run {command.run_id!r} is already recorded")
        inputs = {f.name: getattr(command, f.name) for f in fields(command)}
        inputs["market"] = parse_market(command.market, self.markets).code
        run = StrategyRun.open_live(**inputs)

        def attempt() -> None:
            portfolio = self._portfolio()
            risk = None
            if portfolio is None:
                portfolio = Portfolio.open(account=self.account, cause=command.cause)
                risk = self._risk_or_new(command.cause)
            for strategy_id in command.strategies:
                if strategy_id not in portfolio.allocated_krw:
                    portfolio.allocate(strategy_id, command.capital_krw, command.cause)
            self.save(portfolio, risk, run)  # the run last: the account as it opened precedes it

        self._retrying(attempt, f"open run {command.run_id}")

    def get_run_opened(self, run_id: str) -> StrategyRun.Opened | None:
        """Return the `strategy.run.opened` event of a trading run, or None."""
        if self.get_run(run_id) is None:
            return None
        first = next(iter(self.events.get(run_aggregate_id(run_id), lte=1)), None)
        return first if isinstance(first, StrategyRun.Opened) else None

    def run_opened_position(self, run_id: str) -> int | None:
        """Return the log position of a trading run's `strategy.run.opened`, or None."""
        for position, event in self.read_events([StrategyRun.Opened.TOPIC]):
            if isinstance(event, StrategyRun.Opened) and event.run_id == run_id:
                return position
        return None

    def _portfolio(self) -> Portfolio | None:
        return self._find(portfolio_id(self.account), Portfolio)
