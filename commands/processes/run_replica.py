"""The run's own copy of its account: what the strategies read, and every write mirrored to the log.

A trading run decides from its strategies' books (cash, cash not locked, BTC held). Read from
the log, a book after a restart would already hold what the run did later, so a re-processed
candle would be decided on the future. The run therefore keeps its account in memory: seeded
with the account as it was when the run opened, then changed only by the run's own commands,
each of which is given to the log as well (where `ResumableTrading` skips it when its outcome
is already recorded). The replica's reads are the run's state at the candle being processed.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from commands.messages import (
    AcceptOrder,
    CancelOrder,
    ChangeTradingState,
    PlaceOrder,
    RecordFill,
    RecordSignal,
    RecordSubmissionFailure,
    RejectOrder,
    SetRiskLimits,
)
from commands.processes.resumable_trading import ResumableTrading
from commands.run_engine.run_model import IN_MEMORY_ENV
from commands.trading import OrderPlacement, Trading
from domain.events import Cause
from domain.ids import portfolio_id, position_id, risk_limits_id
from domain.risk.breach import Breach


def seed_account(
    target: Trading, source: Trading, strategies: Sequence[str], market: str, upto_position: int
) -> int:
    """Copy an account as of a log position into an empty Trading; return the events copied.

    Copied: `source`'s ledger, risk record and the strategies' positions in `market`.

    The account a run opened on: what its loop decides from, and what `ledger parity`'s
    backtest of it starts from.
    """
    account = source.account
    wanted = {portfolio_id(account), risk_limits_id(account)} | {
        position_id(account, name, market) for name in strategies
    }
    page = source.recorder.select_notifications(start=None, limit=10**9, stop=upto_position)
    stored = [
        StoredEvent(n.originator_id, n.originator_version, n.topic, n.state)
        for n in page
        if n.originator_id in wanted
    ]
    if stored:
        target.recorder.insert_events(stored)
    return len(stored)


def opening_books(
    source: Trading, strategies: Sequence[str], market: str, upto_position: int
) -> dict[str, tuple[Decimal, Decimal]]:
    """Return each strategy's (cash KRW, BTC held) in the account as of a log position.

    As of a run's opening, these are the books it trades from: its capital for a strategy new
    to the account, else what an earlier run or an operator left.
    """
    account = Trading(
        IN_MEMORY_ENV, account=source.account, markets=source.markets, fee_rate=source.fee_rate
    )
    try:
        seed_account(account, source, strategies, market, upto_position)
        portfolio = account.get_portfolio()
        books: dict[str, tuple[Decimal, Decimal]] = {}
        for name in strategies:
            position = account.get_position(name, market)
            cash = portfolio.book(name).cash_krw if portfolio is not None else Decimal(0)
            books[name] = (cash, position.qty_btc if position is not None else Decimal(0))
        return books
    finally:
        account.close()


class RunReplica(Trading):
    """An in-memory Trading of the run's account whose every command is mirrored to `log`."""

    name = "Ledger"

    def __init__(self, log: ResumableTrading, *, strategies: Sequence[str], market: str) -> None:
        super().__init__(
            IN_MEMORY_ENV, account=log.account, markets=log.markets, fee_rate=log.fee_rate
        )
        self.mirror = log
        self._strategies, self._market = list(strategies), market

    def seed(self, upto_position: int) -> int:
        """Copy the account's ledger, risk record and the run's positions as of a log position.

        Return how many events were copied.
        """
        return seed_account(self, self.mirror, self._strategies, self._market, upto_position)

    def record_signal(self, command: RecordSignal) -> UUID:
        """Record the signal here and in the log."""
        found = super().record_signal(command)
        self.mirror.give(lambda: self.mirror.record_signal(command))
        return found

    def place_order(self, command: PlaceOrder) -> UUID:
        """Place the order here and in the log."""
        found = super().place_order(command)
        self.mirror.give(lambda: self.mirror.place_order(command))
        return found

    def place_strategy_order(self, command: PlaceOrder) -> OrderPlacement:
        """Place (or deny) a strategy's order here, and record the outcome in the log."""
        placement = super().place_strategy_order(command)
        self.mirror.give(lambda: self.mirror.record_placement(command, placement))
        return placement

    def record_breaches(self, breaches: Sequence[Breach], cause: Cause) -> None:
        """Record the breaches here and in the log."""
        super().record_breaches(breaches, cause)
        self.mirror.give(lambda: self.mirror.record_breaches(breaches, cause))

    def change_trading_state(self, command: ChangeTradingState) -> None:
        """Change the trading state here and in the log (where an outside change is skipped)."""
        super().change_trading_state(command)
        self.mirror.give(lambda: self.mirror.change_trading_state(command))

    def set_risk_limits(self, command: SetRiskLimits) -> None:
        """Set the limits here and in the log (where an outside change is skipped)."""
        super().set_risk_limits(command)
        self.mirror.give(lambda: self.mirror.set_risk_limits(command))

    def accept_order(self, command: AcceptOrder) -> None:
        """Record the acknowledgement here and in the log."""
        super().accept_order(command)
        self.mirror.give(lambda: self.mirror.accept_order(command))

    def reject_order(self, command: RejectOrder) -> None:
        """Record the refusal here and in the log."""
        super().reject_order(command)
        self.mirror.give(lambda: self.mirror.reject_order(command))

    def record_submission_failure(self, command: RecordSubmissionFailure) -> None:
        """Record the failed sending here and in the log."""
        super().record_submission_failure(command)
        self.mirror.give(lambda: self.mirror.record_submission_failure(command))

    def cancel_order(self, command: CancelOrder) -> None:
        """Record the cancel here and in the log."""
        super().cancel_order(command)
        self.mirror.give(lambda: self.mirror.cancel_order(command))

    def record_fill(self, command: RecordFill) -> bool:
        """Record the fill here and in the log; return whether it was new here."""
        is_new = super().record_fill(command)
        self.mirror.give(lambda: self.mirror.record_fill(command))
        return is_new
