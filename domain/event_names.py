"""The bus name of every domain event: `<context>.<entity>.<verb_past>` (architecture "Events").

An event class's stored topic *is* its bus name (`TOPIC`), so the log, the NATS subjects (with
an environment prefix added by the NATS adapter) and this table can never disagree.
"""

from __future__ import annotations

import re
from types import MappingProxyType

from domain.audit.checkpoint import ChainCheckpoint
from domain.audit.seal import BundleSeal
from domain.candles.candle_hour import CandleHour
from domain.candles.market_feed import MarketFeed
from domain.events import LedgerEvent
from domain.orders.order import Order
from domain.portfolio.ledger import Portfolio
from domain.positions.position import Position
from domain.reconciliation.reconciliation import Reconciliation
from domain.risk.limits import RiskLimits
from domain.strategies.run import StrategyRun
from domain.strategies.signal import Signal

BUS_NAME_PATTERN = re.compile(r"^[a-z]+(\.[a-z_]+){1,2}$")

EVENT_CLASSES: tuple[type[LedgerEvent], ...] = (
    Order.Placed,
    Order.Accepted,
    Order.PartiallyFilled,
    Order.Filled,
    Order.Cancelled,
    Order.Rejected,
    Order.SubmissionFailed,
    Position.Opened,
    Position.Changed,
    Position.Closed,
    Portfolio.Opened,
    Portfolio.CapitalAllocated,
    Portfolio.CashReserved,
    Portfolio.FillSettled,
    Portfolio.ReservationReleased,
    RiskLimits.Created,
    RiskLimits.LimitsSet,
    RiskLimits.TradingHalted,
    RiskLimits.TradingReduced,
    RiskLimits.TradingResumed,
    RiskLimits.LimitBreached,
    Signal.Created,
    StrategyRun.Started,
    StrategyRun.Opened,
    StrategyRun.Completed,
    CandleHour.Opened,
    CandleHour.Ingested,
    CandleHour.Corrected,
    MarketFeed.Opened,
    MarketFeed.Interrupted,
    MarketFeed.Resumed,
    Reconciliation.Started,
    Reconciliation.DifferenceFound,
    Reconciliation.Completed,
    Reconciliation.Acknowledged,
    ChainCheckpoint.Checkpointed,
    BundleSeal.Sealed,
)

BUS_NAMES: MappingProxyType[type[LedgerEvent], str] = MappingProxyType(
    # TOPIC is declared by each concrete event class, so the base type does not know it.
    {cls: str(getattr(cls, "TOPIC")) for cls in EVENT_CLASSES}  # noqa: B009
)
"""Event class -> bus name."""

EVENT_CLASS_BY_BUS_NAME: MappingProxyType[str, type[LedgerEvent]] = MappingProxyType(
    {name: cls for cls, name in BUS_NAMES.items()}
)
"""Bus name -> event class (the inverse, used to register stored topics)."""


def bus_name(event: LedgerEvent) -> str:
    """Return the bus name of an event."""
    return BUS_NAMES[type(event)]
