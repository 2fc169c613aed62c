"""Positions and P&L per strategy, realised P&L per KST trading day, and the book's changes.

Tables: `rm_positions`; the capital and cash of each strategy (`rm_portfolios`,
`rm_strategy_capital`); realised P&L per KST trading day (`rm_daily_pnl`); every change of a
strategy's cash or BTC held (`rm_book_changes`), which the equity curve marks to market when
it is queried (`projections/equity_curve.py`).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import ClassVar
from uuid import UUID

from domain.events import LedgerEvent
from domain.orders.terms import OrderSide
from domain.portfolio.ledger import Portfolio
from domain.positions.position import Position
from projections.projection import Projection
from projections.rows import Insert, RowOp, Update, Upsert

ZERO = Decimal(0)


class PositionsProjection(Projection):
    """Positions from position events; cash and daily P&L from the cash ledger's events."""

    name: ClassVar[str] = "positions"
    tables: ClassVar[tuple[str, ...]] = (
        "rm_positions",
        "rm_portfolios",
        "rm_strategy_capital",
        "rm_daily_pnl",
        "rm_book_changes",
    )

    def rows(self, event: LedgerEvent, position: int) -> list[RowOp]:
        """Return the rows of a position or cash-ledger event; nothing for others."""
        match event:
            case Position.Opened():
                return [
                    Insert(
                        "rm_positions",
                        {
                            "position_id": event.originator_id,
                            "account": event.account,
                            "strategy_id": event.strategy_id,
                            "market": event.market,
                            "updated_at": event.occurred_at,
                        },
                    )
                ]
            case Position.Changed():
                held = event.qty_btc if OrderSide(event.side) is OrderSide.BID else -event.qty_btc
                return [
                    Update(
                        "rm_positions",
                        {"position_id": event.originator_id},
                        {
                            "qty_btc": event.qty_after_btc,
                            "cost_basis_krw": event.cost_basis_after_krw,
                            "is_open": event.qty_after_btc > 0,
                            "updated_at": event.occurred_at,
                        },
                        {
                            "realised_pnl_krw": event.realised_pnl_krw,
                            "fees_krw": event.fee_krw,
                            "fills": 1,
                        },
                    ),
                    _book_change(event, position, position_id=event.originator_id, btc=held),
                ]
            case Position.Closed():
                values = {"is_open": False, "updated_at": event.occurred_at}
                return [Update("rm_positions", {"position_id": event.originator_id}, values)]
            case Portfolio.Opened():
                row = {
                    "portfolio_id": event.originator_id,
                    "account": event.account,
                    "opened_at": event.occurred_at,
                }
                return [Insert("rm_portfolios", row)]
            case Portfolio.CapitalAllocated():
                return [
                    Upsert(
                        "rm_strategy_capital",
                        {"portfolio_id": event.originator_id, "strategy_id": event.strategy_id},
                        add={"allocated_krw": event.amount_krw, "cash_krw": event.amount_krw},
                    ),
                    _book_change(
                        event,
                        position,
                        portfolio_id=event.originator_id,
                        strategy_id=event.strategy_id,
                        krw=event.amount_krw,
                    ),
                ]
            case Portfolio.FillSettled():
                return [
                    Update(
                        "rm_strategy_capital",
                        {"portfolio_id": event.originator_id, "strategy_id": event.strategy_id},
                        add={"cash_krw": event.cash_delta_krw},
                    ),
                    Upsert(
                        "rm_daily_pnl",
                        {
                            "portfolio_id": event.originator_id,
                            "strategy_id": event.strategy_id,
                            "trading_day": date.fromisoformat(event.trading_day),
                        },
                        add={
                            "realised_pnl_krw": event.realised_pnl_krw,
                            "fees_krw": event.fee_krw,
                            "cash_delta_krw": event.cash_delta_krw,
                            "fills": 1,
                        },
                    ),
                    _book_change(
                        event,
                        position,
                        portfolio_id=event.originator_id,
                        strategy_id=event.strategy_id,
                        krw=event.cash_delta_krw,
                    ),
                ]
        return []


def _book_change(
    event: LedgerEvent,
    position: int,
    *,
    portfolio_id: UUID | None = None,
    strategy_id: str | None = None,
    position_id: UUID | None = None,
    krw: Decimal = ZERO,
    btc: Decimal = ZERO,
) -> Insert:
    return Insert(
        "rm_book_changes",
        {
            "position": position,
            "portfolio_id": portfolio_id,
            "strategy_id": strategy_id,
            "position_id": position_id,
            "at_utc": event.occurred_at,
            "cash_delta_krw": krw,
            "qty_delta_btc": btc,
        },
    )
