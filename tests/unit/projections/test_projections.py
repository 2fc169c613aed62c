"""Projections are pure: an event and its position in, read-model row operations out."""

from __future__ import annotations

from decimal import Decimal

import pytest

from commands.trading import Trading
from domain.events import LedgerEvent
from domain.orders.order import Order
from domain.risk.limits import Limits, RiskLimits
from projections.candles_view import CandlesProjection, parse_minute
from projections.catalogue import PROJECTIONS, projection_named
from projections.orders_view import OrdersProjection
from projections.positions_view import PositionsProjection
from projections.risk_view import RiskProjection
from projections.rows import Insert, RollUpCandles, RowOp, Update, Upsert, WriteCandleMinutes
from tests.builders import cause, events_since, every_event_through_the_application


@pytest.fixture
def logged(bare_trading: Trading) -> list[tuple[int, LedgerEvent]]:
    every_event_through_the_application(bare_trading)
    events = [e for e in events_since(bare_trading, 0) if isinstance(e, LedgerEvent)]
    return list(enumerate(events, start=1))


def rows_of(projection: object, logged: list[tuple[int, LedgerEvent]]) -> list[RowOp]:
    return [op for position, event in logged for op in projection.rows(event, position)]  # type: ignore[attr-defined]


def test_every_projection_has_a_unique_name_and_owns_its_tables() -> None:
    tables = [t for cls in PROJECTIONS.values() for t in cls.tables]
    assert len(tables) == len(set(tables)) and all(t.startswith("rm_") for t in tables)
    with pytest.raises(KeyError, match="the read models are timeline, orders"):
        projection_named("nope")


def test_every_projection_writes_only_its_own_tables(
    logged: list[tuple[int, LedgerEvent]],
) -> None:
    for cls in PROJECTIONS.values():
        for op in rows_of(cls(), logged):
            if isinstance(op, Insert | Update | Upsert):
                assert op.table in cls.tables, (cls.name, op)


def test_an_order_is_inserted_then_updated_with_each_fill_and_status(
    logged: list[tuple[int, LedgerEvent]],
) -> None:
    ops = rows_of(OrdersProjection(), logged)
    placed = [op for op in ops if isinstance(op, Insert) and op.table == "rm_orders"]
    assert {op.values["client_order_id"] for op in placed} == {"bid-1", "ask-1", "bid-2", "bid-3"}
    fills = [op for op in ops if isinstance(op, Insert) and op.table == "rm_order_fills"]
    assert [op.values["trade_id"] for op in fills] == ["t-1", "t-2", "t-3"]
    updates = [op for op in ops if isinstance(op, Update) and "fills" in op.add]
    assert [op.add["filled_btc"] for op in updates] == [
        Decimal("0.004"),
        Decimal("0.006"),
        Decimal("0.01"),
    ]
    statuses = [
        op.values["status"] for op in ops if isinstance(op, Insert) and op.table.endswith("history")
    ]
    assert statuses.count("FAILED") == 1 and statuses.count("CANCELLED") == 1


def test_events_of_other_aggregates_give_no_order_rows(
    logged: list[tuple[int, LedgerEvent]],
) -> None:
    projection = OrdersProjection()
    for position, event in logged:
        if not isinstance(
            event,
            Order.Placed
            | Order.Accepted
            | Order.PartiallyFilled
            | Order.Filled
            | Order.Cancelled
            | Order.Rejected,
        ):
            assert projection.rows(event, position) == []


def test_a_fill_settles_cash_and_adds_to_the_kst_trading_day(
    logged: list[tuple[int, LedgerEvent]],
) -> None:
    ops = rows_of(PositionsProjection(), logged)
    days = [op for op in ops if isinstance(op, Upsert) and op.table == "rm_daily_pnl"]
    assert len(days) == 3 and {str(op.key["trading_day"]) for op in days} == {"2025-01-06"}
    assert sum(op.add["fills"] for op in days) == 3  # type: ignore[misc]


def test_risk_changes_keep_the_state_and_one_history_row_each(
    logged: list[tuple[int, LedgerEvent]],
) -> None:
    ops = rows_of(RiskProjection(), logged)
    states = [op.values.get("trading_state") for op in ops if isinstance(op, Update)]
    # limits set, three changes, then a reconciliation's halt and its acknowledgement's resume
    assert states == [None, "HALTED", "REDUCING", "ACTIVE", "HALTED", "ACTIVE"]
    history = [op for op in ops if isinstance(op, Insert) and op.table == "rm_risk_history"]
    assert len(history) == 8  # created, limits set, three changes, one breach, halt, resume
    breach = history[-3].values
    assert breach["bus_name"] == "risk.limit.breached"
    assert breach["reason"] == (
        "exposure breached: 2000000 against 1000000 (strategy alpha), block_bids, candle "
        f"{breach_hour(logged)}"
    )


def test_limits_set_with_a_submit_rate_show_it_in_the_state_and_the_history() -> None:
    risk = RiskLimits.create(account="main", cause=cause(0))
    risk.set_limits(Limits(max_orders_per_minute=30), "throttle", cause(1))
    logged = list(enumerate(risk.collect_events(), start=1))

    ops = rows_of(RiskProjection(), logged)  # type: ignore[arg-type]

    [update] = [op for op in ops if isinstance(op, Update)]
    assert update.values["max_orders_per_minute"] == 30
    assert update.values["max_order_krw"] is None
    history = [op for op in ops if isinstance(op, Insert) and op.table == "rm_risk_history"]
    assert history[-1].values["max_orders_per_minute"] == 30


def breach_hour(logged: list[tuple[int, LedgerEvent]]) -> str:
    [event] = [e for _, e in logged if isinstance(e, RiskLimits.LimitBreached)]
    return event.candle_open_time.isoformat()


def test_candles_are_written_by_minute_and_rolled_up(
    logged: list[tuple[int, LedgerEvent]],
) -> None:
    ops = rows_of(CandlesProjection(), logged)
    writes = [op for op in ops if isinstance(op, WriteCandleMinutes)]
    assert [w.replace for w in writes] == [False, True]  # ingested, then corrected
    assert writes[1].minutes[0].high == Decimal("1001")
    assert sum(isinstance(op, RollUpCandles) for op in ops) == 2
    with pytest.raises(ValueError, match="does not have 8 fields"):
        parse_minute("0,1,2,3")


def test_every_change_of_cash_or_btc_held_is_one_book_row_at_its_log_position(
    bare_trading: Trading, logged: list[tuple[int, LedgerEvent]]
) -> None:
    projection = PositionsProjection()
    found = []
    for position, event in logged:
        for op in projection.rows(event, position):
            if isinstance(op, Insert) and op.table == "rm_book_changes":
                row = op.values
                assert (row["position"], row["at_utc"]) == (position, event.occurred_at)
                owner = "position_id" if row["position_id"] is not None else "portfolio_id"
                assert row[owner] == event.originator_id
                kind, strategy = type(event).__name__, row["strategy_id"]
                found.append((kind, strategy, row["cash_delta_krw"], row["qty_delta_btc"]))
    assert found == [
        ("CapitalAllocated", "alpha", Decimal("10000000"), 0),
        ("Changed", None, 0, Decimal("0.004")),  # a bid fill adds the BTC bought
        ("FillSettled", "alpha", Decimal("-200100.000"), 0),  # funds + fee
        ("Changed", None, 0, Decimal("0.006")),
        ("FillSettled", "alpha", Decimal("-300150.000"), 0),
        ("Changed", None, 0, Decimal("-0.01")),  # an ask fill takes away the BTC sold
        ("FillSettled", "alpha", Decimal("509745.000"), 0),  # funds - fee
        ("CapitalAllocated", "grid", Decimal("1000000"), 0),  # a trading run opened funded
    ]
    portfolio = bare_trading.get_portfolio()
    assert portfolio is not None
    alpha = [row for row in found if row[1] in ("alpha", None)]
    assert sum(row[2] for row in alpha) == portfolio.book("alpha").cash_krw


def test_a_reconciliation_is_one_row_with_its_differences_and_acknowledgement(
    logged: list[tuple[int, LedgerEvent]],
) -> None:
    from projections.reconciliations_view import ReconciliationsProjection

    ops = rows_of(ReconciliationsProjection(), logged)
    tables = [(type(op).__name__, op.table) for op in ops]  # type: ignore[union-attr]
    assert tables == [
        ("Insert", "rm_reconciliations"),
        ("Insert", "rm_reconciliation_differences"),
        ("Update", "rm_reconciliations"),
        ("Update", "rm_reconciliations"),
    ]
    started, difference, completed, acknowledged = ops
    assert isinstance(started, Insert) and started.values["run_id"] == "sandbox-1"
    assert isinstance(difference, Insert) and difference.values["kind"] == "unknown_open_order"
    assert difference.values["is_explained"] is False
    assert isinstance(completed, Update) and completed.values["unexplained"] == 1
    assert completed.values["is_halting"] is True
    assert isinstance(acknowledged, Update) and acknowledged.values["has_resumed"] is True
    assert acknowledged.values["acknowledgement"] == "drill"
