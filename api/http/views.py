"""Response models of the query API: each read model's rows as the API shows them.

Times are UTC with their KST twin (`*_kst`, +09:00); amounts are exact decimals (strings in
JSON).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar
from uuid import UUID

from pydantic import BaseModel, Field

T = TypeVar("T")


class Listing(BaseModel, Generic[T]):
    """A page of rows; `next_cursor` continues the listing (None at its end)."""

    items: list[T]
    next_cursor: str | None


class OrderView(BaseModel):
    """An order as the read model keeps it."""

    order_id: UUID
    client_order_id: str
    strategy_id: str
    market: str
    side: str
    order_type: str
    price_krw: Decimal | None
    volume_btc: Decimal | None
    amount_krw: Decimal | None
    status: str
    exchange_order_id: str | None
    filled_btc: Decimal
    filled_krw: Decimal
    fees_krw: Decimal
    fills: int
    reason: str | None
    placed_at: datetime
    placed_at_kst: datetime
    updated_at: datetime
    updated_at_kst: datetime
    correlation_id: str
    last_position: int


class FillView(BaseModel):
    """One fill of an order."""

    trade_id: str
    price_krw: Decimal
    qty_btc: Decimal
    fee_krw: Decimal
    filled_at: datetime
    filled_at_kst: datetime
    position: int


class StatusChangeView(BaseModel):
    """One status change of an order."""

    position: int
    status: str
    reason: str | None
    changed_at: datetime
    changed_at_kst: datetime
    actor: str


class OrderDetailView(OrderView):
    """An order with its fills and status history."""

    fill_list: list[FillView]
    status_history: list[StatusChangeView]


class PositionView(BaseModel):
    """A strategy's position in a market."""

    position_id: UUID
    account: str
    strategy_id: str
    market: str
    qty_btc: Decimal
    cost_basis_krw: Decimal
    realised_pnl_krw: Decimal
    fees_krw: Decimal
    fills: int
    is_open: bool
    updated_at: datetime
    updated_at_kst: datetime


class DailyPnlView(BaseModel):
    """Realised P&L of a strategy on a KST trading day (09:00 to 09:00 KST)."""

    strategy_id: str
    trading_day: date
    realised_pnl_krw: Decimal
    fees_krw: Decimal
    cash_delta_krw: Decimal
    fills: int


class CapitalView(BaseModel):
    """A strategy's allocated capital and its cash now."""

    account: str
    strategy_id: str
    allocated_krw: Decimal
    cash_krw: Decimal


class SignalView(BaseModel):
    """A strategy's decision at a candle."""

    signal_id: UUID
    run_id: str
    strategy_id: str
    market: str
    candle_open_time: datetime
    candle_open_time_kst: datetime
    side: str
    order_type: str
    price_krw: Decimal | None
    volume_btc: Decimal | None
    amount_krw: Decimal | None
    reference_price_krw: Decimal
    reason: str
    tag: str
    created_at: datetime
    created_at_kst: datetime
    correlation_id: str
    position: int


class RiskStateView(BaseModel):
    """An account's risk limits and trading state."""

    account: str
    trading_state: str
    max_order_krw: Decimal | None
    max_exposure_krw: Decimal | None
    daily_loss_krw: Decimal | None
    max_drawdown: Decimal | None
    max_orders_per_minute: int | None = Field(
        None, description="orders the account may place in the trailing 60 s; null: no limit"
    )
    reason: str | None
    changed_by: str
    updated_at: datetime
    updated_at_kst: datetime


class RiskChangeView(BaseModel):
    """One change of limits or trading state."""

    position: int
    account: str | None
    bus_name: str
    trading_state: str | None
    max_order_krw: Decimal | None
    max_exposure_krw: Decimal | None
    daily_loss_krw: Decimal | None
    max_drawdown: Decimal | None
    max_orders_per_minute: int | None = Field(
        None, description="orders the account may place in the trailing 60 s; null: no limit"
    )
    reason: str | None
    actor: str
    changed_at: datetime
    changed_at_kst: datetime


class ReconciliationDifferenceView(BaseModel):
    """One difference a reconciliation found between the exchange and the log."""

    position: int
    kind: str = Field(description="e.g. unknown_open_order, fills_missing, balance_mismatch")
    order_id: str | None
    exchange_says: str
    log_says: str
    is_explained: bool
    explanation: str


class ReconciliationView(BaseModel):
    """A reconciliation of a trading run with its exchange: counts, balances, acknowledgement.

    Balances: `krw_*`/`base_*` are the exchange's (free, locked); `ledger_*` the cash and BTC of
    the run's strategies; `unrecorded_*` what trades the log has not recorded yet change.
    """

    reconciliation_id: UUID
    run_id: str
    sequence: int
    trigger: str = Field(description="start, reconnect or operator")
    exchange: str
    market: str
    started_at: datetime
    started_at_kst: datetime
    is_completed: bool
    differences: int
    unexplained: int
    krw_free: Decimal | None
    krw_locked: Decimal | None
    base_free: Decimal | None
    base_locked: Decimal | None
    ledger_krw: Decimal | None
    ledger_base: Decimal | None
    unrecorded_krw: Decimal | None
    unrecorded_base: Decimal | None
    baseline_sequence: int | None
    is_halting: bool = Field(description="it halted trading")
    is_acknowledged: bool
    acknowledged_by: str | None
    acknowledgement: str | None
    has_resumed: bool | None = Field(description="its acknowledgement resumed trading")
    acknowledged_at: datetime | None
    position: int
    difference_list: list[ReconciliationDifferenceView]


class CandleView(BaseModel):
    """A candle: its open time in UTC and KST, prices in KRW, volume in BTC."""

    market: str
    open_time: datetime
    open_time_kst: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume_btc: Decimal
    value_krw: Decimal
    is_synthetic: bool = False
    minutes: int | None = None


class EquityPointView(BaseModel):
    """The book marked at a candle's close: cash + BTC held x close, in KRW."""

    at_utc: datetime
    at_kst: datetime
    close_krw: Decimal
    cash_krw: Decimal
    qty_btc: Decimal
    equity_krw: Decimal


class EventView(BaseModel):
    """One event of a flow: its envelope and its payload."""

    position: int
    bus_name: str
    originator_id: UUID
    originator_version: int
    occurred_at: datetime
    occurred_at_kst: datetime
    actor: str
    causation_id: str
    correlation_id: str
    payload: dict[str, Any]


class ProjectionView(BaseModel):
    """How far a read model has applied the log."""

    name: str
    position: int
    behind: int
