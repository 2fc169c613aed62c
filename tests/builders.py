"""Test data builders (nautilus `TestDataStubs` style): causes, commands and aggregates.

Every builder has sensible defaults, so a test names only what matters to it. Domain time is
fixed: `BASE_TIME` is 2025-01-06 00:00 UTC (09:00 KST, the opening of that trading day);
`minute=` and `day=` move forward from it. Nothing here reads the wall clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol

from commands.handlers import candles as candle_handlers
from commands.handlers import reconciliations
from commands.messages import (
    AcceptOrder,
    AcknowledgeReconciliation,
    AllocateCapital,
    CancelOrder,
    ChangeTradingState,
    CompleteRun,
    Figure,
    IngestCandles,
    OpenRun,
    PlaceOrder,
    RecordFill,
    RecordReconciliation,
    RecordSignal,
    RecordSubmissionFailure,
    RejectOrder,
    SetRiskLimits,
    StartRun,
)
from commands.trading import Trading
from domain.audit.checkpoint import ChainCheckpoint, ChainHead
from domain.audit.link import GENESIS_LINK
from domain.audit.seal import BundleSeal
from domain.candles.candle_hour import CandleRow
from domain.candles.market_feed import FeedInterruption
from domain.clock import KST
from domain.constants import DEFAULT_FEE_RATE
from domain.event_names import bus_name
from domain.events import Cause, LedgerEvent
from domain.market import parse_market
from domain.orders.fill import Fill
from domain.orders.order import Order
from domain.orders.terms import OrderSide, OrderTerms, OrderType, order_terms
from domain.portfolio.ledger import Portfolio
from domain.positions.position import Position
from domain.reconciliation.balances import BookFigures
from domain.reconciliation.difference import Difference, DifferenceKind
from domain.risk.breach import Breach, BreachAction, LimitCode
from domain.risk.limits import RiskLimits
from domain.risk.rules import OrderRiskContext
from domain.strategies.base import OrderIntent

BASE_TIME = datetime(2025, 1, 6, 0, 0, tzinfo=UTC)
"""Monday 2025-01-06 00:00 UTC = 09:00 KST: a session opens (strategies.md "Session")."""

STRATEGY = "alpha"
OTHER_STRATEGY = "beta"
MARKET = "KRW-BTC"
PRICE = Decimal("50000000")
"""A KRW-BTC price on the 1,000 KRW tick grid."""
CAPITAL = Decimal("10000000")
FEE_RATE = DEFAULT_FEE_RATE
POPO_ENV = {"PERSISTENCE_MODULE": "eventsourcing.popo"}


# Time and causes.
def at(minute: int = 0, *, day: int = 0) -> datetime:
    """Return the domain time `day` days and `minute` minutes after `BASE_TIME`."""
    return BASE_TIME + timedelta(days=day, minutes=minute)


def cause(
    minute: int = 0,
    *,
    day: int = 0,
    actor: str = "tester",
    causation_id: str | None = None,
    correlation_id: str = "flow-1",
) -> Cause:
    """Return a cause at `at(minute, day=day)`; the causation id names the minute."""
    return Cause(
        occurred_at=at(minute, day=day),
        actor=actor,
        causation_id=causation_id or f"request-{day}-{minute}",
        correlation_id=correlation_id,
    )


def fee(price_krw: Figure, qty_btc: Figure, rate: Decimal = FEE_RATE) -> Decimal:
    """Return the exchange fee of a fill: price x quantity x rate (upbit-api.md §7.2)."""
    return Decimal(str(price_krw)) * Decimal(str(qty_btc)) * rate


# Commands.
def allocate_capital(
    amount_krw: Figure = CAPITAL, *, strategy_id: str = STRATEGY, minute: int = 0
) -> AllocateCapital:
    return AllocateCapital(strategy_id=strategy_id, amount_krw=amount_krw, cause=cause(minute))


def _place(
    client_order_id: str,
    side: str,
    order_type: str,
    *,
    strategy_id: str,
    market: str,
    minute: int,
    day: int,
    **figures: Any,
) -> PlaceOrder:
    return PlaceOrder(
        client_order_id=client_order_id,
        strategy_id=strategy_id,
        market=market,
        side=side,
        order_type=order_type,
        cause=cause(minute, day=day),
        **figures,
    )


def place_limit_bid(
    client_order_id: str = "bid-1",
    *,
    price_krw: Figure | None = "50000000",
    volume_btc: Figure | None = "0.01",
    strategy_id: str = STRATEGY,
    market: str = MARKET,
    minute: int = 1,
    day: int = 0,
    **extra: Any,
) -> PlaceOrder:
    return _place(
        client_order_id,
        "bid",
        "limit",
        strategy_id=strategy_id,
        market=market,
        minute=minute,
        day=day,
        price_krw=price_krw,
        volume_btc=volume_btc,
        **extra,
    )


def place_limit_ask(
    client_order_id: str = "ask-1",
    *,
    price_krw: Figure | None = "51000000",
    volume_btc: Figure | None = "0.01",
    strategy_id: str = STRATEGY,
    market: str = MARKET,
    minute: int = 1,
    day: int = 0,
    **extra: Any,
) -> PlaceOrder:
    return _place(
        client_order_id,
        "ask",
        "limit",
        strategy_id=strategy_id,
        market=market,
        minute=minute,
        day=day,
        price_krw=price_krw,
        volume_btc=volume_btc,
        **extra,
    )


def place_market_bid(
    client_order_id: str = "market-bid-1",
    *,
    amount_krw: Figure | None = "100000",
    strategy_id: str = STRATEGY,
    market: str = MARKET,
    minute: int = 1,
    day: int = 0,
    **extra: Any,
) -> PlaceOrder:
    return _place(
        client_order_id,
        "bid",
        "market",
        strategy_id=strategy_id,
        market=market,
        minute=minute,
        day=day,
        amount_krw=amount_krw,
        **extra,
    )


def place_market_ask(
    client_order_id: str = "market-ask-1",
    *,
    volume_btc: Figure | None = "0.01",
    reference_price_krw: Figure | None = "50000000",
    strategy_id: str = STRATEGY,
    market: str = MARKET,
    minute: int = 1,
    day: int = 0,
    **extra: Any,
) -> PlaceOrder:
    return _place(
        client_order_id,
        "ask",
        "market",
        strategy_id=strategy_id,
        market=market,
        minute=minute,
        day=day,
        volume_btc=volume_btc,
        reference_price_krw=reference_price_krw,
        **extra,
    )


def accept_order(
    order_id: UUID, *, exchange_order_id: str = "upbit-uuid-1", minute: int = 2
) -> AcceptOrder:
    return AcceptOrder(order_id=order_id, exchange_order_id=exchange_order_id, cause=cause(minute))


def record_fill(
    order_id: UUID,
    *,
    trade_id: str = "trade-1",
    price_krw: Figure = "50000000",
    qty_btc: Figure = "0.01",
    fee_krw: Figure | None = None,
    minute: int = 3,
    day: int = 0,
) -> RecordFill:
    """Return a fill command; the fee defaults to the 0.05 % KRW-market fee of the fill."""
    return RecordFill(
        order_id=order_id,
        trade_id=trade_id,
        price_krw=price_krw,
        qty_btc=qty_btc,
        fee_krw=fee(price_krw, qty_btc) if fee_krw is None else fee_krw,
        cause=cause(minute, day=day),
    )


def cancel_order(order_id: UUID, *, reason: str = "user asked", minute: int = 4) -> CancelOrder:
    return CancelOrder(order_id=order_id, reason=reason, cause=cause(minute))


def reject_order(
    order_id: UUID, *, reason: str = "refused", rejected_by: str = "exchange", minute: int = 2
) -> RejectOrder:
    return RejectOrder(
        order_id=order_id, reason=reason, rejected_by=rejected_by, cause=cause(minute)
    )


def set_risk_limits(
    *, reason: str = "daily review", minute: int = 0, **limits: Figure | None
) -> SetRiskLimits:
    return SetRiskLimits(reason=reason, cause=cause(minute), **limits)


def change_trading_state(
    to_state: str, *, reason: str = "operator decision", minute: int = 0
) -> ChangeTradingState:
    return ChangeTradingState(to_state=to_state, reason=reason, cause=cause(minute))


# Domain objects (aggregates built with their creation events already collected).
def terms(
    side: str = "bid",
    order_type: str = "limit",
    *,
    price_krw: Figure | None = None,
    volume_btc: Figure | None = None,
    amount_krw: Figure | None = None,
    reference_price_krw: Figure | None = None,
    minute: int = 0,
) -> OrderTerms:
    """Return validated terms; a limit order defaults to 0.01 BTC at 50,000,000 KRW."""
    kind = OrderType(order_type)
    if kind is OrderType.LIMIT:
        price_krw = "50000000" if price_krw is None else price_krw
        volume_btc = "0.01" if volume_btc is None else volume_btc
    return order_terms(
        parse_market(MARKET),
        OrderSide(side),
        kind,
        at=at(minute),
        price_krw=price_krw,
        volume_btc=volume_btc,
        amount_krw=amount_krw,
        reference_price_krw=reference_price_krw,
    )


def limit_lock(order: OrderTerms, rate: Decimal = FEE_RATE) -> tuple[Decimal, Decimal]:
    """Return the (KRW, BTC) an order locks: qty x price x (1 + fee) for a limit bid."""
    if order.side is OrderSide.ASK:
        assert order.volume_btc is not None
        return Decimal(0), order.volume_btc
    if order.amount_krw is not None:
        return order.amount_krw * (1 + rate), Decimal(0)
    assert order.volume_btc is not None and order.price_krw is not None
    return order.volume_btc * order.price_krw * (1 + rate), Decimal(0)


def placed_order(
    order_terms_: OrderTerms | None = None,
    *,
    client_order_id: str = "bid-1",
    strategy_id: str = STRATEGY,
    locked: tuple[Decimal, Decimal] | None = None,
    minute: int = 1,
) -> Order:
    """Return a NEW order whose Placed event is already collected (a clean 'given')."""
    chosen = order_terms_ if order_terms_ is not None else terms()
    order = Order.place(
        client_order_id=client_order_id,
        strategy_id=strategy_id,
        terms=chosen,
        locked=limit_lock(chosen) if locked is None else locked,
        cause=cause(minute),
    )
    order.collect_events()
    return order


def open_order(order_terms_: OrderTerms | None = None, **kwargs: Any) -> Order:
    """Return an OPEN order (placed and accepted), its events collected."""
    order = placed_order(order_terms_, **kwargs)
    order.accept("upbit-uuid-1", cause(2))
    order.collect_events()
    return order


def fill(
    trade_id: str = "trade-1",
    *,
    price_krw: Figure = "50000000",
    qty_btc: Figure = "0.01",
    fee_krw: Figure | None = None,
) -> Fill:
    """Return a fill value with the 0.05 % fee by default."""
    return Fill(
        trade_id=trade_id,
        price_krw=Decimal(str(price_krw)),
        qty_btc=Decimal(str(qty_btc)),
        fee_krw=fee(price_krw, qty_btc) if fee_krw is None else Decimal(str(fee_krw)),
    )


def opened_portfolio(capital: Mapping[str, Figure] | None = None) -> Portfolio:
    """Return the account's ledger with capital allocated (default 10,000,000 KRW to alpha)."""
    portfolio = Portfolio.open(account="main", cause=cause(0))
    for strategy_id, amount in (capital or {STRATEGY: CAPITAL}).items():
        portfolio.allocate(strategy_id, amount, cause(0))
    portfolio.collect_events()
    return portfolio


def opened_position(strategy_id: str = STRATEGY, market: str = MARKET) -> Position:
    """Return an empty position record, its Opened event collected."""
    position = Position.open(account="main", strategy_id=strategy_id, market=market, cause=cause(0))
    position.collect_events()
    return position


def created_risk_limits() -> RiskLimits:
    """Return the account's risk record (no limits, ACTIVE), its Created event collected."""
    risk = RiskLimits.create(account="main", cause=cause(0))
    risk.collect_events()
    return risk


def risk_context(
    side: str = "bid",
    *,
    notional_krw: Figure = "500000",
    exposure_krw: Figure = "0",
    daily_net_pnl_krw: Figure = "0",
    strategy_id: str = STRATEGY,
    recent_orders: int = 0,
) -> OrderRiskContext:
    return OrderRiskContext(
        strategy_id=strategy_id,
        side=OrderSide(side),
        notional_krw=Decimal(str(notional_krw)),
        exposure_krw=Decimal(str(exposure_krw)),
        daily_net_pnl_krw=Decimal(str(daily_net_pnl_krw)),
        trading_day=at().date().isoformat(),
        recent_orders=recent_orders,
    )


# The application and its log.
def trading_app(**kwargs: Any) -> Trading:
    """Return a fresh Trading application on the in-memory (POPO) event store."""
    return Trading(POPO_ENV, **kwargs)


def last_notification_id(app: Trading) -> int:
    """Return the position of the last event in the application's log (0 when empty)."""
    return app.recorder.max_notification_id() or 0


def events_since(app: Trading, notification_id: int) -> list[DomainEventProtocol[Any]]:
    """Return the domain events appended after `notification_id`, in log order."""
    notifications = app.recorder.select_notifications(start=notification_id + 1, limit=10_000)
    return [app.mapper.to_domain_event(n) for n in notifications]


def bus_names_since(app: Trading, notification_id: int) -> list[str]:
    """Return the bus names of the events appended after `notification_id`, in log order."""
    names = []
    for event in events_since(app, notification_id):
        assert isinstance(event, LedgerEvent)
        names.append(bus_name(event))
    return names


# A log with every kind of event.
SEOUL_CAUSE = Cause(
    occurred_at=datetime(2025, 1, 6, 10, 15, tzinfo=KST),
    actor="operator:kim",
    causation_id="http-request-7",
    correlation_id="day-2025-01-06",
)
"""Given in KST on purpose: the envelope must store it as UTC and keep the KST copy."""


def every_event_through_the_application(app: Trading) -> None:
    """Run commands that, between them, append one or more events of every class."""
    app.allocate_capital(AllocateCapital("alpha", "10000000", SEOUL_CAUSE))
    app.set_risk_limits(set_risk_limits(max_order_krw="5000000"))
    bid = app.place_order(place_limit_bid("bid-1"))
    app.accept_order(accept_order(bid))
    app.record_fill(record_fill(bid, trade_id="t-1", qty_btc="0.004"))
    app.record_fill(record_fill(bid, trade_id="t-2", qty_btc="0.006"))
    ask = app.place_order(place_limit_ask("ask-1", volume_btc="0.01"))
    app.accept_order(accept_order(ask, exchange_order_id="upbit-uuid-2"))
    app.record_fill(record_fill(ask, trade_id="t-3", price_krw="51000000", qty_btc="0.01"))
    cancelled = app.place_order(place_limit_bid("bid-2"))
    app.accept_order(accept_order(cancelled, exchange_order_id="upbit-uuid-3"))
    app.cancel_order(cancel_order(cancelled))
    unsent = app.place_order(place_limit_bid("bid-3"))
    app.record_submission_failure(RecordSubmissionFailure(unsent, "504 timeout", SEOUL_CAUSE))
    app.reject_order(reject_order(unsent))
    for state in ("HALTED", "REDUCING", "ACTIVE"):
        app.change_trading_state(ChangeTradingState(state, "drill", SEOUL_CAUSE))
    intent = OrderIntent(
        OrderSide.BID,
        OrderType.MARKET,
        Decimal("50000000"),
        "entry",
        "vb-1",
        amount_krw=Decimal("100000"),
    )
    row = CandleRow.of(0, ("1000", "1000", "1000", "1000", "1", "1000"))
    hour = SEOUL_CAUSE.occurred_at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    app.ingest_candles([IngestCandles("KRW-BTC", hour, (row,), "test", SEOUL_CAUSE)])
    fixed = CandleRow.of(0, ("1000", "1001", "1000", "1000", "1", "1000"))
    app.ingest_candles([IngestCandles("KRW-BTC", hour, (fixed,), "test", SEOUL_CAUSE, True)])
    app.record_signal(
        RecordSignal("run-1", "alpha", "KRW-BTC", SEOUL_CAUSE.occurred_at, 0, intent, SEOUL_CAUSE)
    )
    candle_handlers.record_feed_interrupted(
        app, "KRW-BTC", FeedInterruption.MAINTENANCE, "market_offline", cause=SEOUL_CAUSE
    )
    candle_handlers.record_feed_resumed(app, "KRW-BTC", backfilled=3, cause=SEOUL_CAUSE)
    app.start_run(
        StartRun(
            run_id="run-1",
            mode="backtest",
            market="KRW-BTC",
            strategies={"grid": {"levels": "10"}},
            capital_krw=Decimal("1000000"),
            fee_rate=DEFAULT_FEE_RATE,
            slippage_bps=Decimal(0),
            max_participation=None,
            first_candle_at=hour,
            last_candle_at=hour,
            candle_count=1,
            candles_sha256="0" * 64,
            cause=SEOUL_CAUSE,
        )
    )
    app.complete_run(CompleteRun("run-1", 1, 1, "0" * 64, SEOUL_CAUSE))
    app.open_run(
        OpenRun(
            run_id="paper-1",
            mode="paper",
            exchange="paper",
            market="KRW-BTC",
            strategies={"grid": {"levels": "10"}},
            capital_krw=Decimal("1000000"),
            fee_rate=DEFAULT_FEE_RATE,
            slippage_bps=Decimal(0),
            max_participation=None,
            first_candle_at=hour,
            cause=SEOUL_CAUSE,
        )
    )
    app.record_breaches(
        [
            Breach(
                LimitCode.EXPOSURE,
                "alpha",
                Decimal("2000000"),
                Decimal("1000000"),
                BreachAction.BLOCK_BIDS,
                hour,
            )
        ],
        SEOUL_CAUSE,
    )
    app.open_run(
        OpenRun(
            run_id="sandbox-1",
            mode="live",
            exchange="sandbox",
            market="KRW-BTC",
            strategies={"grid": {"levels": "10"}},
            capital_krw=Decimal("1000000"),
            fee_rate=DEFAULT_FEE_RATE,
            slippage_bps=Decimal(0),
            max_participation=None,
            first_candle_at=hour,
            cause=SEOUL_CAUSE,
        )
    )
    foreign = Difference.of(
        DifferenceKind.UNKNOWN_OPEN_ORDER,
        order_id="00000000-0000-0000-0000-000000000007",
        exchange_says="working",
        log_says="not an order of the log",
        explanation="drill",
    )
    rec = reconciliations.record_reconciliation(
        app,
        RecordReconciliation(
            run_id="sandbox-1",
            trigger="start",
            differences=(foreign,),
            krw=(Decimal("1000000"), Decimal(0)),
            base=(Decimal(0), Decimal(0)),
            unrecorded=BookFigures(Decimal(0), Decimal(0)),
            cause=SEOUL_CAUSE,
        ),
    )
    reconciliations.acknowledge_reconciliation(
        app, AcknowledgeReconciliation(rec.reconciliation_id, "drill", SEOUL_CAUSE)
    )
    # The PostgreSQL recorder records checkpoints itself; in memory, one is saved by hand.
    app.save(ChainCheckpoint.record(ChainHead(1, GENESIS_LINK, 1), SEOUL_CAUSE))
    app.save(BundleSeal.record("0" * 64, ChainHead(1, GENESIS_LINK, 1), SEOUL_CAUSE))
