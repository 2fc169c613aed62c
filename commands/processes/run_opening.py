"""A trading run's opening: the account as it stood at the log position where the run opened.

What the run's risk monitor starts from (`opening_risk`), and what `ledger parity`'s backtest of
the run starts from (`seed_account`, `opening_books`).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from commands.trading import Trading
from domain.ids import portfolio_id, position_id, risk_limits_id
from domain.portfolio.ledger import Portfolio
from domain.positions.position import Position
from domain.risk.limits import Limits, RiskLimits
from domain.risk.trading_state import TradingState

RISK_RECORD_TOPICS = [
    RiskLimits.Created.TOPIC,
    RiskLimits.LimitsSet.TOPIC,
    RiskLimits.TradingHalted.TOPIC,
    RiskLimits.TradingReduced.TOPIC,
    RiskLimits.TradingResumed.TOPIC,
    RiskLimits.LimitBreached.TOPIC,
]


def opening_risk(log: Trading, upto_position: int) -> tuple[Limits, TradingState]:
    """Return the account's risk limits and trading state as of a log position."""
    record_id = risk_limits_id(log.account)
    record: Any = None
    for _, event in log.read_events(RISK_RECORD_TOPICS, upto=upto_position):
        if event.originator_id == record_id:
            record = event.mutate(record)  # type: ignore[attr-defined]
    if not isinstance(record, RiskLimits):
        return Limits(), TradingState.ACTIVE
    return record.limits, record.state


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
    account = source.account
    positions = {name: position_id(account, name, market) for name in strategies}
    found = aggregates_as_of(source, {portfolio_id(account), *positions.values()}, upto_position)
    portfolio = found.get(portfolio_id(account))
    books: dict[str, tuple[Decimal, Decimal]] = {}
    for name in strategies:
        position = found.get(positions[name])
        cash = portfolio.book(name).cash_krw if isinstance(portfolio, Portfolio) else Decimal(0)
        held = position.qty_btc if isinstance(position, Position) else Decimal(0)
        books[name] = (cash, held)
    return books


def aggregates_as_of(log: Trading, ids: set[UUID], upto_position: int) -> dict[UUID, Any]:
    """Return these aggregates as they stood at a log position (those that existed then)."""
    found: dict[UUID, Any] = {}
    page = log.recorder.select_notifications(start=None, limit=10**9, stop=upto_position)
    for notification in page:
        if notification.originator_id in ids:
            event: Any = log.mapper.to_domain_event(notification)
            found[event.originator_id] = event.mutate(found.get(event.originator_id))
    return found
