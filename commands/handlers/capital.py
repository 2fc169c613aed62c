"""The use case that gives a strategy capital (opening the account's ledger if needed)."""

from __future__ import annotations

from commands.handlers.orders import get_portfolio
from commands.handlers.risk import risk_or_new
from commands.ledger_port import Ledger
from commands.messages import AllocateCapital
from domain.portfolio.ledger import Portfolio


def allocate_capital(ledger: Ledger, command: AllocateCapital) -> None:
    """Allocate KRW capital to a strategy (opening the account's ledger if needed)."""

    def attempt() -> None:
        portfolio = get_portfolio(ledger)
        risk = None
        if portfolio is None:  # the account opens with its ledger and its risk record
            portfolio = Portfolio.open(account=ledger.account, cause=command.cause)
            risk = risk_or_new(ledger, command.cause)
        portfolio.allocate(command.strategy_id, command.amount_krw, command.cause)
        ledger.save(portfolio, risk)

    ledger.retrying(attempt, "allocate capital")
