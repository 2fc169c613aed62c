"""Command messages: what a caller asks the ledger to do, imperative and frozen (style S3.4).

Figures may be given as Decimal or decimal strings; the domain validates them. Every command
carries its `Cause` (domain time in UTC, actor, causation and correlation ids).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from uuid import UUID

from domain.candles.candle_hour import CandleRow
from domain.events import Cause
from domain.reconciliation.balances import BookFigures
from domain.reconciliation.difference import Difference
from domain.risk.limits import Limits
from domain.strategies.base import OrderIntent

Figure = Decimal | str | int
"""A number as a caller gives it; never a float."""


@dataclass(frozen=True)
class PlaceOrder:
    """Place an order for a strategy; market bids give `amount_krw`, the rest `volume_btc`."""

    client_order_id: str
    strategy_id: str
    market: str
    side: str
    order_type: str
    cause: Cause
    price_krw: Figure | None = None
    volume_btc: Figure | None = None
    amount_krw: Figure | None = None
    reference_price_krw: Figure | None = None


@dataclass(frozen=True)
class AcceptOrder:
    """Record that the exchange acknowledged an order."""

    order_id: UUID
    exchange_order_id: str
    cause: Cause


@dataclass(frozen=True)
class RecordFill:
    """Record one fill of an order (idempotent by trade id)."""

    order_id: UUID
    trade_id: str
    price_krw: Figure
    qty_btc: Figure
    fee_krw: Figure
    cause: Cause


@dataclass(frozen=True)
class CancelOrder:
    """Cancel the unfilled remainder of an order."""

    order_id: UUID
    reason: str
    cause: Cause


@dataclass(frozen=True)
class RejectOrder:
    """Record that risk, the exchange or the submission refused an order."""

    order_id: UUID
    reason: str
    rejected_by: str
    cause: Cause


@dataclass(frozen=True)
class RecordSubmissionFailure:
    """Record that sending an order got no answer (it stays NEW, to be looked up)."""

    order_id: UUID
    reason: str
    cause: Cause


@dataclass(frozen=True)
class AllocateCapital:
    """Allocate KRW capital to a strategy."""

    strategy_id: str
    amount_krw: Figure
    cause: Cause


@dataclass(frozen=True)
class SetRiskLimits:
    """Set the account's risk limits (None removes a limit)."""

    reason: str
    cause: Cause
    max_order_krw: Figure | None = None
    max_exposure_krw: Figure | None = None
    daily_loss_krw: Figure | None = None
    max_drawdown: Figure | None = None
    max_orders_per_minute: Figure | None = None


@dataclass(frozen=True)
class ChangeTradingState:
    """Halt, reduce or resume trading: `to_state` is HALTED, REDUCING or ACTIVE."""

    to_state: str
    reason: str
    cause: Cause


@dataclass(frozen=True)
class RecordSignal:
    """Record a strategy's decision; `rank` orders its signals at one candle."""

    run_id: str
    strategy_id: str
    market: str
    candle_open_time: datetime
    rank: int
    intent: OrderIntent
    cause: Cause


@dataclass(frozen=True)
class IngestCandles:
    """Record closed candles of one market's UTC hour.

    `allow_corrections` records a candle that differs from the recorded one as an explicit
    correction instead of refusing it.
    """

    market: str
    hour_start: datetime
    rows: tuple[CandleRow, ...]
    source: str
    cause: Cause
    allow_corrections: bool = False


@dataclass(frozen=True)
class StartRun:
    """Record the start of a run of the strategies with every input a replay needs."""

    run_id: str
    mode: str
    market: str
    strategies: dict[str, dict[str, str]]
    capital_krw: Decimal
    fee_rate: Decimal
    slippage_bps: Decimal
    max_participation: Decimal | None
    first_candle_at: datetime
    last_candle_at: datetime
    candle_count: int
    candles_sha256: str
    cause: Cause
    limits: Limits = Limits()
    """The risk limits the run applies (none by default)."""


@dataclass(frozen=True)
class OpenRun:
    """Open a paper or live run of the trading system, with every input but its candles."""

    run_id: str
    mode: str
    exchange: str
    market: str
    strategies: dict[str, dict[str, str]]
    capital_krw: Decimal
    fee_rate: Decimal
    slippage_bps: Decimal
    max_participation: Decimal | None
    first_candle_at: datetime
    cause: Cause


@dataclass(frozen=True)
class CompleteRun:
    """Record the end of a run with the replay hash of its decisions."""

    run_id: str
    candles_processed: int
    decisions: int
    replay_hash: str
    cause: Cause


@dataclass(frozen=True)
class RecordReconciliation:
    """Record what comparing a run's exchange with the log found.

    `krw` and `base` are the exchange's (free, locked) balances; `unrecorded` what the trades
    it has and the log has not recorded yet change; `differences` those of the orders.
    """

    run_id: str
    trigger: str
    differences: tuple[Difference, ...]
    krw: tuple[Decimal, Decimal]
    base: tuple[Decimal, Decimal]
    unrecorded: BookFigures
    cause: Cause


@dataclass(frozen=True)
class AcknowledgeReconciliation:
    """Acknowledge a reconciliation's unexplained differences (an operator, with a reason)."""

    reconciliation_id: UUID
    reason: str
    cause: Cause
