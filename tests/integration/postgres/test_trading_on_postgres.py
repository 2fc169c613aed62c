"""The Trading application on a real PostgreSQL: append, reload, refusals, races, restart."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError
from psycopg import sql

from adapters.postgres.writer_lock import writer_lock_key
from commands.messages import AcceptOrder, AllocateCapital, CancelOrder, PlaceOrder, RecordFill
from commands.trading import Trading
from domain.errors import IllegalOrderTransitionError, PriceOffTickError
from domain.events import Cause
from domain.ids import order_id as order_id_of
from tests.at_once import errors_at_once
from tests.integration.postgres.advisory_locks import end_sessions_holding

BASE = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)


def cause(minute: int) -> Cause:
    return Cause(BASE + timedelta(minutes=minute), "test", f"cause-{minute}", "flow-1")


@pytest.fixture
def target(pg_schema):  # type: ignore[no-untyped-def]
    return pg_schema


@pytest.fixture
def trading(target) -> Iterator[Trading]:  # type: ignore[no-untyped-def]
    app = Trading(target.eventsourcing_env())
    yield app
    app.close()


def event_rows(target) -> list[tuple[str, int, str]]:  # type: ignore[no-untyped-def]
    with psycopg.connect(target.conninfo) as conn:
        table = sql.Identifier(target.schema, "ledger_events")
        query = sql.SQL(
            "SELECT originator_id::text, originator_version, topic FROM {} ORDER BY notification_id"
        ).format(table)
        return [tuple(row) for row in conn.execute(query).fetchall()]  # type: ignore[misc]


def open_bid(app: Trading, client_id: str = "o-1") -> UUID:
    app.allocate_capital(AllocateCapital("vb", "10000000", cause(0)))
    order_id = app.place_order(
        PlaceOrder(
            client_id,
            "vb",
            "KRW-BTC",
            "bid",
            "limit",
            cause(1),
            price_krw="50000000",
            volume_btc="0.1",
        )
    )
    app.accept_order(AcceptOrder(order_id, "upbit-uuid-1", cause(2)))
    return order_id


def test_events_appended_on_postgres_reload_in_a_new_application(trading, target) -> None:
    # Given an order placed, accepted and partly filled
    order_id = open_bid(trading)
    trading.record_fill(RecordFill(order_id, "t-1", "49000000", "0.04", "980", cause(3)))
    # When a second application reads the same schema
    reader = Trading(target.eventsourcing_env())
    try:
        order = reader.get_order(order_id)
        # Then it sees the same order, position and cash ledger
        assert order.describe() == trading.get_order(order_id).describe()
        assert order.status.value == "PARTIAL"
        assert order.executed_volume_btc == Decimal("0.04")
        assert reader.get_portfolio().book("vb") == trading.get_portfolio().book("vb")
        position = reader.get_position("vb", "KRW-BTC")
        assert position is not None and position.qty_btc == Decimal("0.04")
    finally:
        reader.close()
    topics = [topic for _, _, topic in event_rows(target)]
    assert topics == [
        "ledger.portfolio.opened",
        "ledger.capital.allocated",
        "risk.limits.created",
        "ledger.cash.reserved",
        "order.placed",
        "order.accepted",
        "order.partially_filled",
        "position.opened",
        "position.changed",
        "ledger.fill.settled",
    ]


def test_refused_command_on_postgres_leaves_the_event_table_unchanged(trading, target) -> None:
    # Given an account with capital
    trading.allocate_capital(AllocateCapital("vb", "10000000", cause(0)))
    before = event_rows(target)
    # When an order with a price off the tick grid is placed
    with pytest.raises(PriceOffTickError, match="50,000,500"):
        trading.place_order(
            PlaceOrder(
                "bad-1",
                "vb",
                "KRW-BTC",
                "bid",
                "limit",
                cause(1),
                price_krw="50000500",
                volume_btc="0.01",
            )
        )
    # Then not a row was added
    assert event_rows(target) == before


def test_two_writers_racing_on_one_order_only_one_wins(trading, target) -> None:
    # Given one open order, loaded by two independent applications
    order_id = open_bid(trading)
    other = Trading(target.eventsourcing_env())
    try:
        mine, theirs = trading.get_order(order_id), other.get_order(order_id)
        mine.cancel("operator", cause(3))
        theirs.record_fill(
            trade_id="t-race", price_krw="50000000", qty_btc="0.1", fee_krw="2500", cause=cause(3)
        )
        # When both save the version they decided on
        trading.save(mine)
        # Then the second save loses: the same version is already taken, nothing is written
        with pytest.raises(IntegrityError):
            other.save(theirs)
        assert trading.get_order(order_id).status.value == "CANCELLED"
        assert other.get_order(order_id).fills == {}
    finally:
        other.close()


def test_concurrent_commands_on_postgres_retry_and_all_apply(trading, target) -> None:
    # Given an open order for 0.1 BTC and four writers with their own connection pools
    order_id = open_bid(trading)
    apps = [Trading(target.eventsourcing_env()) for _ in range(4)]

    def fill_five(app: Trading, worker: int) -> None:
        for n in range(5):
            app.record_fill(
                RecordFill(order_id, f"t-{worker}-{n}", "50000000", "0.005", "125", cause(10 + n))
            )

    # When they record 20 different fills at the same time
    errors = errors_at_once([lambda a=a, i=i: fill_five(a, i) for i, a in enumerate(apps)])
    for app in apps:
        app.close()
    # Then every fill is recorded once, and the order is complete
    assert errors == []
    order = trading.get_order(order_id)
    assert len(order.fills) == 20
    assert order.executed_volume_btc == Decimal("0.100")
    assert order.status.value == "FILLED"
    assert trading.get_portfolio().book("vb").reserved_krw == 0


def test_writers_of_one_account_take_turns_so_none_needs_more_than_two_attempts(
    trading, target
) -> None:
    # Given an open order and eight writers with their own pools and locks, each allowed two
    # attempts (the first may have read before another writer's save; the second decides
    # holding the lock)
    order_id = open_bid(trading)
    apps = [Trading(target.eventsourcing_env(), conflict_retries=2) for _ in range(8)]

    def fill_and_place(app: Trading, worker: int) -> None:
        for n in range(3):
            app.record_fill(
                RecordFill(order_id, f"t-{worker}-{n}", "50000000", "0.001", "25", cause(10))
            )
            app.place_order(
                PlaceOrder(
                    f"w-{worker}-{n}",
                    "vb",
                    "KRW-BTC",
                    "bid",
                    "limit",
                    cause(11),
                    price_krw="40000000",
                    volume_btc="0.001",
                )
            )

    # When they all record fills and place orders on the one account at once
    errors = errors_at_once([lambda a=a, i=i: fill_and_place(a, i) for i, a in enumerate(apps)])
    for app in apps:
        app.close()
    # Then no write gave up: every command applied
    assert errors == []
    assert len(trading.get_order(order_id).fills) == 24
    placed = [trading.get_order(order_id_of(f"w-{w}-{n}")) for w in range(8) for n in range(3)]
    assert [t for _, _, t in event_rows(target)].count("order.placed") == 1 + len(placed)
    # And the cash ledger locks exactly what the open orders still lock
    locked = sum(
        (o.locked_remaining()[0] for o in [*placed, trading.get_order(order_id)]), Decimal(0)
    )
    assert trading.get_portfolio().book("vb").reserved_krw == locked


def test_a_writer_turn_whose_connection_died_is_released_by_the_server(trading, target) -> None:
    # Given a writer holding the account's turn on its lock connection
    open_bid(trading)
    other = Trading(target.eventsourcing_env(), conflict_retries=1)
    try:
        with trading.writer_turns.hold("main") as turn:
            turn.granted()
            # When the server ends that connection (a crashed process)
            key = writer_lock_key(target.schema, "main")
            assert end_sessions_holding(target.conninfo, key) == 1
            # Then another process's writer gets the turn and its command applies
            other.allocate_capital(AllocateCapital("vb", "1", cause(20)))
        assert other.get_portfolio().allocated_krw["vb"] == Decimal("10000001")
        # And the first writer takes its turn again on a fresh connection
        trading.allocate_capital(AllocateCapital("vb", "1", cause(21)))
        assert trading.get_portfolio().allocated_krw["vb"] == Decimal("10000002")
    finally:
        other.close()


def test_cancel_racing_with_cancel_refuses_the_loser_after_reloading(trading, target) -> None:
    # Given an open order and a second writer
    order_id = open_bid(trading)
    other = Trading(target.eventsourcing_env())
    try:
        # When both cancel it
        trading.cancel_order(CancelOrder(order_id, "operator A", cause(3)))
        # Then the second sees the fresh state and is refused by the state machine
        with pytest.raises(IllegalOrderTransitionError, match="CANCELLED"):
            other.cancel_order(CancelOrder(order_id, "operator B", cause(4)))
    finally:
        other.close()
    assert [t for _, _, t in event_rows(target)].count("order.cancelled") == 1


def test_restart_on_postgres_reloads_identical_state_with_snapshots(target) -> None:
    # Given an order with more fills than the snapshot interval
    app = Trading(target.eventsourcing_env())
    order_id = open_bid(app)
    for n in range(150):
        app.record_fill(RecordFill(order_id, f"t-{n}", "50000000", "0.0001", "2.5", cause(3)))
    state = (
        app.get_order(order_id).describe(),
        app.get_portfolio().book("vb"),
        vars(app.get_position("vb", "KRW-BTC")),
    )
    app.close()
    # When the application restarts
    restarted = Trading(target.eventsourcing_env())
    try:
        reloaded = (
            restarted.get_order(order_id).describe(),
            restarted.get_portfolio().book("vb"),
            vars(restarted.get_position("vb", "KRW-BTC")),
        )
    finally:
        restarted.close()
    # Then it has exactly the same state
    assert reloaded == state
    assert reloaded[0]["version"] == 152


def test_a_save_may_idle_between_its_statements_longer_than_eventsourcings_five_seconds(
    target,  # type: ignore[no-untyped-def]
) -> None:
    # An 8-month import builds 5,751 events' arrays and chain links inside one transaction; on a
    # loaded machine that idled past the library's 5 s default and the server cut the save.
    from adapters.postgres.event_store import eventsourcing_env

    app = Trading(dict(eventsourcing_env(target.conninfo, schema=target.schema)))
    try:
        with app.recorder.datastore.transaction() as cursor:  # type: ignore[attr-defined]
            cursor.execute("SHOW idle_in_transaction_session_timeout")
            row = cursor.fetchone()
    finally:
        app.close()
    assert row is not None and row["idle_in_transaction_session_timeout"] == "2min"
