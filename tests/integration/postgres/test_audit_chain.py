"""The audit chain on a real PostgreSQL: kept in each save's transaction, and every change to
the log or to its chain (update, delete, insert, reorder) named by `ChainReader.verify`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from uuid import UUID

import psycopg
import pytest
from psycopg import sql

from adapters.postgres.chain_reader import ChainReader, ChainVerification
from adapters.postgres.snapshot_audit import SnapshotAudit
from commands.messages import AcceptOrder, AllocateCapital, IngestCandles, RecordFill
from commands.trading import Trading
from domain.audit.checkpoint import ChainCheckpoint
from domain.audit.verification import BreakKind
from domain.candles.candle_hour import CandleRow
from domain.events import Cause
from domain.orders.order import Order
from tests.builders import (
    accept_order,
    change_trading_state,
    place_limit_ask,
    place_limit_bid,
    record_fill,
    set_risk_limits,
)

BASE = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
CHECKPOINT_TOPIC = "audit.chain.checkpointed"


def cause(minute: int) -> Cause:
    return Cause(BASE + timedelta(minutes=minute), "test", f"cause-{minute}", "flow-1")


def env(target, **extra: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {**target.eventsourcing_env(), **extra}


@pytest.fixture
def trading(pg_schema) -> Iterator[Trading]:  # type: ignore[no-untyped-def]
    app = Trading(env(pg_schema))
    yield app
    app.close()


@pytest.fixture
def reader(pg_schema) -> ChainReader:  # type: ignore[no-untyped-def]
    return ChainReader(pg_schema.conninfo, pg_schema.schema)


def record_orders(app: Trading, count: int = 3) -> None:
    app.allocate_capital(AllocateCapital("vb", "100000000", cause(0)))
    for n in range(count):
        order_id = app.place_order(place_limit_bid(f"o-{n}", strategy_id="vb", minute=n + 1))
        app.accept_order(AcceptOrder(order_id, f"upbit-{n}", cause(n + 1)))


def run(target, statement: str, *params: object) -> int:  # type: ignore[no-untyped-def]
    """Run SQL on the test's schema ({events}: the log, {saves}: the chain's table, {chain}: its
    view, an event a row); return the rows changed."""
    with psycopg.connect(target.conninfo) as conn:
        query = sql.SQL(statement).format(
            events=sql.Identifier(target.schema, "ledger_events"),
            chain=sql.Identifier(target.schema, "ledger_chain_links"),
            saves=sql.Identifier(target.schema, "ledger_chain_saves"),
            snapshots=sql.Identifier(target.schema, "ledger_snapshots"),
        )
        return conn.execute(query, params).rowcount


def rows(target, statement: str, *params: object) -> list[tuple[object, ...]]:  # type: ignore[no-untyped-def]
    with psycopg.connect(target.conninfo) as conn:
        query = sql.SQL(statement).format(
            events=sql.Identifier(target.schema, "ledger_events"),
            chain=sql.Identifier(target.schema, "ledger_chain_links"),
            saves=sql.Identifier(target.schema, "ledger_chain_saves"),
            snapshots=sql.Identifier(target.schema, "ledger_snapshots"),
        )
        return conn.execute(query, params).fetchall()


def identity_at(target, position: int) -> str:  # type: ignore[no-untyped-def]
    ((topic, originator_id, version),) = rows(
        target,
        "SELECT topic, originator_id::text, originator_version FROM {events} "
        "WHERE notification_id = %s",
        position,
    )
    return f"{topic} {originator_id} v{version}"


def assert_named_as_changed(  # type: ignore[no-untyped-def]
    outcome: ChainVerification, target, position: int
) -> None:
    """Assert that the verification's break is the event at `position`, named as changed."""
    assert outcome.chain_break is not None
    assert outcome.chain_break.position == position
    assert outcome.chain_break.kind is BreakKind.CHANGED
    assert outcome.chain_break.event == identity_at(target, position)


def reprice(target, position: int) -> int:  # type: ignore[no-untyped-def]
    """Edit the stored state of the event at `position` (a price 50,000,000 -> 40,000,000), as
    an administrator could; return the rows changed."""
    return run(
        target,
        "UPDATE {events} SET state = convert_to(replace(convert_from(state, 'UTF8'), "
        "'50000000', '40000000'), 'UTF8') WHERE notification_id = %s",
        position,
    )


def test_every_recorded_event_is_chained_in_log_order(trading, pg_schema, reader) -> None:
    # Given orders recorded through the ledger
    record_orders(trading)

    # When the chain is read and verified
    chain = rows(pg_schema, "SELECT position, count FROM {chain} ORDER BY position")
    events = rows(pg_schema, "SELECT notification_id FROM {events} ORDER BY notification_id")
    outcome = reader.verify()

    # Then every event has its link, counted in order, and the whole log verifies
    assert [p for p, _ in chain] == [p for (p,) in events]
    assert [c for _, c in chain] == list(range(1, len(events) + 1))
    assert outcome.is_intact, outcome.chain_break
    assert outcome.count == len(events) == outcome.events_checked
    assert reader.status().is_caught_up
    assert trading.recorder.chain_status() == reader.status()  # type: ignore[attr-defined]


def test_a_large_save_is_one_chain_row_and_a_change_in_it_is_named(
    trading, pg_schema, reader
) -> None:
    # Given saves of both sizes: one order at a time, then 40 orders in one save (80 events,
    # one chain row), then one more
    trading.allocate_capital(AllocateCapital("vb", "100000000000", cause(0)))
    trading.place_order(place_limit_bid("first", strategy_id="vb", minute=1))
    trading.place_orders(
        [place_limit_bid(f"bulk-{n}", strategy_id="vb", minute=2) for n in range(40)]
    )
    trading.place_order(place_limit_bid("last", strategy_id="vb", minute=3))
    chain = rows(pg_schema, "SELECT position, count FROM {chain} ORDER BY position")
    events = rows(pg_schema, "SELECT notification_id FROM {events} ORDER BY notification_id")
    assert len(events) >= 2 + 80 + 2
    sizes = rows(pg_schema, "SELECT cardinality(positions) FROM {saves} ORDER BY position")
    assert max(size for (size,) in sizes) == 80

    # Then every event is chained in order and the log verifies
    assert [p for p, _ in chain] == [p for (p,) in events]
    assert [c for _, c in chain] == list(range(1, len(events) + 1))
    assert reader.verify().is_intact

    # And when an order placed inside the large save is edited, verify names it
    placed = rows(
        pg_schema,
        "SELECT notification_id FROM {events} WHERE topic = 'order.placed' "
        "ORDER BY notification_id",
    )
    position = placed[20][0]
    assert reprice(pg_schema, position) == 1
    outcome = reader.verify()
    assert outcome.chain_break is not None
    assert (outcome.chain_break.position, outcome.chain_break.kind) == (
        position,
        BreakKind.CHANGED,
    )


def test_verify_from_a_position_inside_a_save_starts_at_the_event_before_it(
    trading, pg_schema, reader
) -> None:
    # Given a save of 80 events, then one of 2
    trading.allocate_capital(AllocateCapital("vb", "100000000000", cause(0)))
    trading.place_orders(
        [place_limit_bid(f"bulk-{n}", strategy_id="vb", minute=2) for n in range(40)]
    )
    trading.place_order(place_limit_bid("last", strategy_id="vb", minute=3))
    ((first, last),) = rows(
        pg_schema, "SELECT positions[1], position FROM {saves} WHERE cardinality(positions) = 80"
    )
    middle = (first + last) // 2

    # When verified from a position inside that save
    outcome = reader.verify(from_position=middle)

    # Then it starts from the stored link of the event just before it, and checks the rest
    ((count_before,),) = rows(
        pg_schema, "SELECT count FROM {chain} WHERE position = %s", middle - 1
    )
    assert outcome.is_intact
    assert outcome.start_position == middle - 1
    assert outcome.events_checked == outcome.count - count_before


def test_a_second_application_extends_the_same_chain(trading, pg_schema, reader) -> None:
    # Given events recorded by one application, then by another on the same log
    record_orders(trading, 1)
    other = Trading(env(pg_schema))
    try:
        other.allocate_capital(AllocateCapital("grid", "5000000", cause(9)))
    finally:
        other.close()

    # Then the chain runs on without a break
    assert reader.verify().is_intact
    assert reader.status().is_caught_up


def test_an_updated_event_is_named_as_changed(trading, pg_schema, reader) -> None:
    # Given a chained log, one of whose events an administrator then edits
    record_orders(trading)
    position = rows(
        pg_schema, "SELECT min(notification_id) FROM {events} WHERE topic = 'order.placed'"
    )[0][0]
    assert reprice(pg_schema, position) == 1

    # When the chain is verified
    outcome = reader.verify()

    # Then the edited event is named
    assert_named_as_changed(outcome, pg_schema, position)
    assert outcome.events_checked == position - 1


def test_a_deleted_event_is_named(trading, pg_schema, reader) -> None:
    record_orders(trading)
    named = identity_at(pg_schema, 4)
    assert run(pg_schema, "DELETE FROM {events} WHERE notification_id = 4") == 1

    outcome = reader.verify()

    assert outcome.chain_break is not None
    assert (outcome.chain_break.position, outcome.chain_break.kind) == (4, BreakKind.DELETED)
    assert outcome.chain_break.event == named


def test_an_inserted_copy_of_an_event_is_named(trading, pg_schema, reader) -> None:
    # Given a chained log, and a copy of one of its events inserted with a new notification id
    record_orders(trading)
    run(
        pg_schema,
        "INSERT INTO {events} (originator_id, originator_version, topic, state) "
        "SELECT originator_id, originator_version + 100, topic, state FROM {events} "
        "WHERE notification_id = 5",
    )
    ((inserted,),) = rows(pg_schema, "SELECT max(notification_id) FROM {events}")

    outcome = reader.verify()

    assert outcome.chain_break is not None
    assert (outcome.chain_break.position, outcome.chain_break.kind) == (
        inserted,
        BreakKind.INSERTED,
    )
    assert outcome.chain_break.event == identity_at(pg_schema, inserted)


def test_an_event_inserted_at_the_end_stays_named_after_later_saves(
    trading, pg_schema, reader
) -> None:
    # Given a chained log, a copy of an event inserted around the ledger, then more saves
    record_orders(trading, 1)
    run(
        pg_schema,
        "INSERT INTO {events} (originator_id, originator_version, topic, state) "
        "SELECT gen_random_uuid(), originator_version, topic, state FROM {events} "
        "WHERE notification_id = 1",
    )
    ((inserted,),) = rows(pg_schema, "SELECT max(notification_id) FROM {events}")
    trading.allocate_capital(AllocateCapital("grid", "5000000", cause(9)))

    # When the chain is verified
    outcome = reader.verify()

    # Then the later saves did not chain the foreign event: it is still named
    assert outcome.chain_break is not None
    assert (outcome.chain_break.position, outcome.chain_break.kind) == (
        inserted,
        BreakKind.INSERTED,
    )
    assert not reader.status().is_caught_up


def test_an_event_inserted_into_a_gap_of_the_log_is_named(trading, pg_schema, reader) -> None:
    # Given a chained log with an event moved away from position 3, and another put there
    record_orders(trading)
    last = rows(pg_schema, "SELECT max(notification_id) FROM {events}")[0][0]
    run(pg_schema, "UPDATE {events} SET notification_id = %s WHERE notification_id = 3", last + 50)
    run(
        pg_schema,
        "INSERT INTO {events} (notification_id, originator_id, originator_version, topic, state) "
        "SELECT 3, originator_id, originator_version + 100, topic, state FROM {events} "
        "WHERE notification_id = 5",
    )

    outcome = reader.verify()

    assert outcome.chain_break is not None
    assert outcome.chain_break.position == 3
    assert outcome.chain_break.kind in (BreakKind.CHANGED, BreakKind.INSERTED)
    assert outcome.chain_break.event == identity_at(pg_schema, 3)


def test_two_events_swapped_are_named_as_reordered(trading, pg_schema, reader) -> None:
    # Given a chained log whose events at positions 4 and 6 trade their contents
    record_orders(trading)
    first, second = identity_at(pg_schema, 4), identity_at(pg_schema, 6)
    # (moving the rows swaps everything the log holds at the two positions)
    run(pg_schema, "UPDATE {events} SET notification_id = -4 WHERE notification_id = 4")
    run(pg_schema, "UPDATE {events} SET notification_id = 4 WHERE notification_id = 6")
    run(pg_schema, "UPDATE {events} SET notification_id = 6 WHERE notification_id = -4")

    outcome = reader.verify()

    assert outcome.chain_break is not None
    assert (outcome.chain_break.position, outcome.chain_break.kind) == (4, BreakKind.REORDERED)
    assert outcome.chain_break.event == second
    assert "position 6" in outcome.chain_break.detail
    assert first != second


def test_a_link_changed_in_the_chain_table_is_named(trading, pg_schema, reader) -> None:
    record_orders(trading)
    assert set_link(pg_schema, 3, "0" * 64) == 1

    outcome = reader.verify()

    assert outcome.chain_break is not None
    assert (outcome.chain_break.position, outcome.chain_break.kind) == (
        3,
        BreakKind.CHAIN_ALTERED,
    )
    assert outcome.chain_break.event == identity_at(pg_schema, 3)


def test_an_event_taken_out_of_the_chain_table_is_named(trading, pg_schema, reader) -> None:
    # Given a chained log, and one event's element taken out of its save's row (the row's
    # count lowered with it, so the events before it keep theirs)
    record_orders(trading)
    ((size,),) = rows(
        pg_schema, "SELECT cardinality(positions) FROM {saves} WHERE 5 = ANY(positions)"
    )
    assert size > 1
    assert (
        run(
            pg_schema,
            "UPDATE {saves} SET count = count - 1, "
            "positions = array_remove(positions, 5::bigint), "
            "originator_ids = originator_ids[:k - 1] || originator_ids[k + 1:], "
            "originator_versions = originator_versions[:k - 1] || originator_versions[k + 1:], "
            "topics = topics[:k - 1] || topics[k + 1:], links = links[:k - 1] || links[k + 1:] "
            "FROM (SELECT array_position(positions, 5::bigint) AS k FROM {saves} "
            "WHERE 5 = ANY(positions)) AS found WHERE 5 = ANY(positions)",
        )
        == 1
    )

    outcome = reader.verify()

    assert outcome.chain_break is not None
    assert (outcome.chain_break.position, outcome.chain_break.kind) == (
        5,
        BreakKind.CHAIN_ALTERED,
    )


def test_a_save_row_deleted_from_the_chain_table_is_named(trading, pg_schema, reader) -> None:
    record_orders(trading)
    ((first,),) = rows(pg_schema, "SELECT positions[1] FROM {saves} WHERE 5 = ANY(positions)")
    assert run(pg_schema, "DELETE FROM {saves} WHERE 5 = ANY(positions)") == 1

    outcome = reader.verify()

    assert outcome.chain_break is not None
    assert (outcome.chain_break.position, outcome.chain_break.kind) == (
        first,
        BreakKind.CHAIN_ALTERED,
    )


def test_verify_from_a_position_checks_only_the_rest(trading, reader) -> None:
    record_orders(trading)

    outcome = reader.verify(from_position=6)

    assert outcome.is_intact
    assert outcome.start_position == 5
    assert outcome.events_checked == outcome.count - 5


def test_a_checkpoint_is_recorded_every_n_events_and_is_itself_chained(pg_schema, reader) -> None:
    # Given a ledger that checkpoints every 5 events
    app = Trading(env(pg_schema, AUDIT_CHECKPOINT_EVERY="5"))
    try:
        # When it records a dozen or so events
        record_orders(app, 4)
    finally:
        app.close()

    # Then checkpoints name the head at the save that crossed each multiple, and all verify
    found = rows(
        pg_schema,
        "SELECT notification_id, convert_from(state, 'UTF8') FROM {events} "
        "WHERE topic = %s ORDER BY notification_id",
        CHECKPOINT_TOPIC,
    )
    assert len(found) >= 2
    heads = rows(pg_schema, "SELECT position, link, count FROM {chain} ORDER BY position")
    by_position = {p: (link, count) for p, link, count in heads}
    for _, state in found:
        body = json.loads(state)
        assert by_position[body["head_position"]] == (body["head_link"], body["head_count"])
        assert body["actor"] == "audit-chain"
    outcome = reader.verify()
    assert outcome.is_intact
    assert outcome.checkpoints_checked == len(found)


def test_a_checkpoint_rewritten_to_another_head_is_named(pg_schema, reader) -> None:
    app = Trading(env(pg_schema, AUDIT_CHECKPOINT_EVERY="5"))
    try:
        record_orders(app, 2)
    finally:
        app.close()
    ((position,),) = rows(
        pg_schema, "SELECT min(notification_id) FROM {events} WHERE topic = %s", CHECKPOINT_TOPIC
    )
    # An administrator rewrites the checkpoint and recomputes the chain from there on
    run(
        pg_schema,
        "UPDATE {events} SET state = convert_to(regexp_replace(convert_from(state, 'UTF8'), "
        "'\"head_link\": ?\"[0-9a-f]+\"', '\"head_link\":\"' || repeat('a', 64) || '\"'), "
        "'UTF8') WHERE notification_id = %s",
        position,
    )
    relink(pg_schema)

    outcome = reader.verify()

    assert outcome.chain_break is not None
    assert (outcome.chain_break.position, outcome.chain_break.kind) == (
        position,
        BreakKind.CHECKPOINT_MISMATCH,
    )


def test_events_recorded_before_the_chain_are_chained_by_the_next_save(pg_schema, reader) -> None:
    # Given a log written without the chain (the library's recorder, as before issue 8)
    library_recorder = {**pg_schema.eventsourcing_env(), "PROCESS_RECORDER_TOPIC": ""}
    plain = Trading(library_recorder)
    try:
        record_orders(plain, 1)
    finally:
        plain.close()
    # When the ledger records its next event
    app = Trading(env(pg_schema))
    try:
        app.allocate_capital(AllocateCapital("grid", "5000000", cause(9)))
    finally:
        app.close()

    # Then the old events are chained first, in order, and the whole log verifies
    assert reader.verify().is_intact
    assert reader.status().is_caught_up


def relink(target, chain_format: int = 3) -> None:  # type: ignore[no-untyped-def]
    """Recompute every link from the log, as someone who controls the database could."""
    from domain.audit.canonical import canonical_audit_json
    from domain.audit.link import GENESIS_LINK, chain_link

    link = GENESIS_LINK
    events = rows(
        target,
        "SELECT notification_id, topic, originator_id, originator_version, state FROM {events} "
        "ORDER BY notification_id",
    )
    for position, topic, originator_id, version, state in events:
        link = chain_link(
            link,
            canonical_audit_json(position, topic, originator_id, version, state, chain_format),  # type: ignore[arg-type]
        )
        set_link(target, position, link)


def set_link(target, position: int, link: str) -> int:  # type: ignore[no-untyped-def]
    """Set the chain's stored link of the event at `position`; return the rows changed."""
    return run(
        target,
        "UPDATE {saves} SET links[array_position(positions, %s::bigint)] = decode(%s, 'hex') "
        "WHERE %s = ANY(positions)",
        position,
        link,
        position,
    )


def test_the_checkpoint_event_is_registered_under_its_bus_name() -> None:
    assert ChainCheckpoint.Checkpointed.TOPIC == CHECKPOINT_TOPIC


def edit_state(target, position: int, old: str, new: str) -> int:  # type: ignore[no-untyped-def]
    """Replace `old` by `new` in the stored JSON of the event at `position`; return rows changed."""
    return run(
        target,
        "UPDATE {events} SET state = convert_to(replace(convert_from(state, 'UTF8'), %s, %s), "
        "'UTF8') WHERE notification_id = %s",
        old,
        new,
        position,
    )


def first_order_placed(target) -> int:  # type: ignore[no-untyped-def]
    return int(
        rows(target, "SELECT min(notification_id) FROM {events} WHERE topic = 'order.placed'")[0][0]  # type: ignore[arg-type]
    )


def originator_at(target, position: int) -> object:  # type: ignore[no-untyped-def]
    """Return the aggregate id of the event at `position`."""
    ((originator_id,),) = rows(
        target, "SELECT originator_id FROM {events} WHERE notification_id = %s", position
    )
    return originator_id


def test_an_order_loaded_as_another_aggregate_class_is_named_as_changed(
    trading, pg_schema, reader
) -> None:
    # Given a chained log whose first order's created event is edited to load as a Position
    record_orders(trading)
    position = first_order_placed(pg_schema)
    order_id = originator_at(pg_schema, position)
    edited = edit_state(
        pg_schema, position, "domain.orders.order:Order", "domain.positions.position:Position"
    )
    assert edited == 1
    fresh = Trading(env(pg_schema))
    try:
        assert fresh.find(order_id, Order) is None  # type: ignore[arg-type]  # the edit bites
    finally:
        fresh.close()

    # When the chain is verified
    outcome = reader.verify()

    # Then the edited event is named
    assert_named_as_changed(outcome, pg_schema, position)


def test_an_edited_library_timestamp_is_named_as_changed(trading, pg_schema, reader) -> None:
    # Given a chained log whose first order's library timestamp (its created_on) is edited
    record_orders(trading)
    position = first_order_placed(pg_schema)
    order_id = originator_at(pg_schema, position)
    stamp = '"timestamp":{"_type_":"datetime_iso","_data_":"20'
    assert edit_state(pg_schema, position, stamp, stamp.replace('"20', '"19')) == 1
    fresh = Trading(env(pg_schema))
    try:
        assert fresh.get_order(order_id).created_on.year < 2000  # type: ignore[arg-type]
    finally:
        fresh.close()

    # When the chain is verified
    outcome = reader.verify()

    # Then the edited event is named
    assert_named_as_changed(outcome, pg_schema, position)


def chain_as_before_issue_17(target) -> None:  # type: ignore[no-untyped-def]
    """Make the chain what a log chained before issue 17 holds: format-2 links, no format."""
    relink(target, chain_format=2)
    run(target, "ALTER TABLE {saves} DROP COLUMN format CASCADE")  # and the view
    run(
        target,
        "CREATE VIEW {chain} AS "
        "SELECT e.position, s.count - cardinality(s.positions) + e.ordinality AS count, "
        "e.originator_id, e.originator_version, e.topic, encode(e.link, 'hex') AS link, "
        "s.position AS save_position "
        "FROM {saves} AS s CROSS JOIN LATERAL unnest(s.positions, "
        "s.originator_ids, s.originator_versions, s.topics, s.links) WITH ORDINALITY "
        "AS e(position, originator_id, originator_version, topic, link, ordinality)",
    )


def formats(target) -> list[object]:  # type: ignore[no-untyped-def]
    return [f for (f,) in rows(target, "SELECT format FROM {saves} ORDER BY position")]


def test_a_log_chained_before_format_3_still_verifies_and_goes_on_in_format_3(
    trading, pg_schema, reader
) -> None:
    # Given a log chained in format 2 (before issue 17)
    record_orders(trading, 1)
    chain_as_before_issue_17(pg_schema)

    # When the ledger starts on it and records more
    app = Trading(env(pg_schema))
    try:
        app.allocate_capital(AllocateCapital("grid", "5000000", cause(9)))
    finally:
        app.close()

    # Then the old rows keep format 2, the new one is format 3, and the whole log verifies
    found = formats(pg_schema)
    assert found[-1] == 3 and set(found[:-1]) == {2}
    outcome = reader.verify()
    assert outcome.is_intact, outcome.chain_break
    assert outcome.count == len(rows(pg_schema, "SELECT 1 FROM {events}"))


@pytest.mark.parametrize(
    ("old", "new", "named"),
    [
        (
            '"timestamp":{"_type_":"datetime_iso","_data_":"20',
            '"timestamp":{"_type_":"datetime_iso","_data_":"19',
            "library timestamp",
        ),
        ("domain.orders.order:Order", "domain.positions.position:Position", "originator_topic"),
        ("domain.orders.order:Order", "os:system", "originator_topic"),
    ],
)
def test_an_edit_of_a_field_a_format_2_link_left_out_is_named(
    trading, pg_schema, reader, old: str, new: str, named: str
) -> None:
    # Given a log chained in format 2, whose first order's left-out field is then edited
    record_orders(trading, 1)
    chain_as_before_issue_17(pg_schema)
    Trading(env(pg_schema)).close()  # the ledger restarted: the format column is back
    position = first_order_placed(pg_schema)
    assert edit_state(pg_schema, position, old, new) == 1

    # When the chain is verified
    outcome = reader.verify()

    # Then the event is named as changed, with the field
    assert outcome.chain_break is not None
    assert outcome.chain_break.position == position
    assert outcome.chain_break.kind is BreakKind.CHANGED
    assert named in outcome.chain_break.detail


def test_a_chain_row_moved_to_the_old_format_is_named(trading, pg_schema, reader) -> None:
    # Given a chained log, one of whose save rows is marked as chained in format 2
    record_orders(trading)
    position = first_order_placed(pg_schema)
    assert run(pg_schema, "UPDATE {saves} SET format = 2 WHERE %s = ANY(positions)", position)

    # When the chain is verified
    outcome = reader.verify()

    # Then the row's first event no longer matches its link: named
    assert outcome.chain_break is not None
    assert outcome.chain_break.kind is BreakKind.CHANGED
    first = rows(pg_schema, "SELECT positions[1] FROM {saves} WHERE %s = ANY(positions)", position)
    assert outcome.chain_break.position == first[0][0]


def portfolio_snapshot(target) -> tuple[object, int]:  # type: ignore[no-untyped-def]
    """Return (aggregate id, version) of the newest snapshot of the account's ledger."""
    ((originator_id, version),) = rows(
        target,
        "SELECT originator_id, originator_version FROM {snapshots} WHERE convert_from(state, "
        "'UTF8') LIKE '%%domain.portfolio.ledger:Portfolio%%' ORDER BY originator_version DESC "
        "LIMIT 1",
    )
    return originator_id, int(version)  # type: ignore[call-overload]


def edit_snapshot(target, originator_id: object, version: int, old: str, new: str) -> int:  # type: ignore[no-untyped-def]
    """Replace `old` by `new` in a snapshot's stored JSON, as an administrator could."""
    return run(
        target,
        "UPDATE {snapshots} SET state = convert_to(replace(convert_from(state, 'UTF8'), %s, %s), "
        "'UTF8') WHERE originator_id = %s AND originator_version = %s",
        old,
        new,
        originator_id,
        version,
    )


def fill_one_order(app: Trading, fills: int) -> None:
    """Allocate, place one bid and fill it `fills` times (Order, Position and Portfolio each
    pass the snapshot interval of 100 events at 101 fills)."""
    app.allocate_capital(AllocateCapital("vb", "100000000", cause(0)))
    order_id = app.place_order(place_limit_bid("o-1", strategy_id="vb", volume_btc="1"))
    app.accept_order(AcceptOrder(order_id, "upbit-1", cause(1)))
    for n in range(fills):
        app.record_fill(RecordFill(order_id, f"t-{n}", "50000000", "0.001", "25", cause(2)))


@pytest.fixture
def checking_reader(trading, pg_schema) -> ChainReader:  # type: ignore[no-untyped-def]
    """A reader that checks the log's snapshots too, as `ledger audit verify`'s does."""
    return ChainReader(pg_schema.conninfo, pg_schema.schema, snapshots=SnapshotAudit.of(trading))


def test_an_edited_snapshot_that_changes_what_loading_produces_is_named(
    trading, pg_schema, checking_reader
) -> None:
    # Given a ledger whose account ledger was snapshotted (at 100 events), whose snapshot's
    # cash of strategy vb is then edited
    fill_one_order(trading, 101)
    portfolio, version = portfolio_snapshot(pg_schema)
    assert version == 100
    cash = str(trading.get_portfolio().book("vb").cash_krw)  # type: ignore[union-attr]
    stored = '"cash_krw":{"vb":{"_type_":"decimal_str","_data_":"'
    assert edit_snapshot(pg_schema, portfolio, version, stored, stored + "9") == 1
    fresh = Trading(env(pg_schema))
    try:
        loaded = str(fresh.get_portfolio().book("vb").cash_krw)  # type: ignore[union-attr]
    finally:
        fresh.close()
    assert loaded != cash  # the edit changes what loading produces

    # When the log is verified
    outcome = checking_reader.verify()

    # Then the snapshot is named: its aggregate, version and the field that differs
    assert outcome.chain_break is not None
    assert outcome.chain_break.kind is BreakKind.SNAPSHOT_ALTERED
    assert str(portfolio) in outcome.chain_break.event
    assert f"v{version}" in outcome.chain_break.event
    assert "cash_krw" in outcome.chain_break.detail


class SnapshottingOften(Trading):
    """The ledger with every snapshotted aggregate snapshotted every 2 events (cheap to test)."""

    name = "Ledger"  # the same log (a subclass would get tables of its own)
    snapshot_every = dict.fromkeys(Trading.snapshot_every, 2)


@pytest.fixture
def often(pg_schema) -> Iterator[SnapshottingOften]:  # type: ignore[no-untyped-def]
    app = SnapshottingOften(env(pg_schema))
    yield app
    app.close()


def often_reader(app: Trading, target) -> ChainReader:  # type: ignore[no-untyped-def]
    return ChainReader(target.conninfo, target.schema, snapshots=SnapshotAudit.of(app))


def every_snapshotted_kind(app: Trading) -> None:
    """Record events of every aggregate the ledger snapshots, several of each."""
    app.allocate_capital(AllocateCapital("vb", "100000000", cause(0)))
    app.set_risk_limits(set_risk_limits(max_order_krw="50000000"))
    for state in ("HALTED", "REDUCING", "ACTIVE"):
        app.change_trading_state(change_trading_state(state))
    bid = app.place_order(place_limit_bid("bid-1", strategy_id="vb", volume_btc="0.02"))
    app.accept_order(accept_order(bid))
    for n in range(3):
        app.record_fill(record_fill(bid, trade_id=f"t-{n}", qty_btc="0.005"))
    ask = app.place_order(place_limit_ask("ask-1", strategy_id="vb", volume_btc="0.01"))
    app.accept_order(accept_order(ask, exchange_order_id="upbit-2"))
    app.record_fill(record_fill(ask, trade_id="t-9", price_krw="51000000", qty_btc="0.01"))
    hour = BASE.replace(hour=5)
    for minute in range(3):
        row = CandleRow.of(minute, ("1000", "1000", "1000", "1000", "1", "1000"))
        app.ingest_candles([IngestCandles("KRW-BTC", hour, (row,), "test", cause(minute))])
    fixed = CandleRow.of(0, ("1000", "1001", "1000", "1000", "1", "1000"))
    app.ingest_candles([IngestCandles("KRW-BTC", hour, (fixed,), "test", cause(5), True)])


def test_every_snapshot_of_every_kind_matches_its_events_replayed(often, pg_schema) -> None:
    # Given a log with events of every snapshotted aggregate, each snapshotted every 2 events
    every_snapshotted_kind(often)
    stored = rows(pg_schema, "SELECT convert_from(state, 'UTF8') FROM {snapshots}")
    kinds = {json.loads(state)["topic"].rsplit(":", 1)[1] for (state,) in stored}  # type: ignore[arg-type]
    assert kinds >= {"Order", "Position", "Portfolio", "RiskLimits", "CandleHour"}

    # When the log is verified, every snapshot and all
    outcome = often_reader(often, pg_schema).verify(every_snapshot=True)

    # Then every snapshot was rebuilt from its chained events and found equal
    assert outcome.is_intact, outcome.chain_break
    assert outcome.snapshots_checked == len(stored)
    assert outcome.as_dict()["snapshots_checked"] == len(stored)


def test_verify_checks_the_snapshot_loading_uses_and_counts_the_older_ones(
    often, pg_schema
) -> None:
    # Given a log whose snapshotted aggregates have several snapshots each, and one older
    # snapshot of the account's ledger edited (loading uses only the newest)
    every_snapshotted_kind(often)
    (aggregates, snapshots) = rows(
        pg_schema, "SELECT count(DISTINCT originator_id), count(*) FROM {snapshots}"
    )[0]
    portfolio, newest = portfolio_snapshot(pg_schema)
    (oldest,) = rows(
        pg_schema,
        "SELECT min(originator_version) FROM {snapshots} WHERE originator_id = %s",
        portfolio,
    )[0]
    assert oldest < newest  # type: ignore[operator]
    added_key = ('"allocated_krw":{', '"allocated_krw":{"x":1,')
    assert edit_snapshot(pg_schema, portfolio, oldest, *added_key) == 1  # type: ignore[arg-type]
    reader = often_reader(often, pg_schema)

    # When the log is verified as `ledger audit verify` does by default
    outcome = reader.verify()

    # Then the newest snapshot of each aggregate was checked, the older ones counted apart
    assert outcome.is_intact, outcome.chain_break
    assert (outcome.snapshots_checked, outcome.snapshots_superseded) == (
        aggregates,
        snapshots - aggregates,  # type: ignore[operator]
    )
    # And checking every snapshot names the edited older one
    thorough = reader.verify(every_snapshot=True)
    assert thorough.chain_break is not None
    assert thorough.chain_break.event == f"snapshot {portfolio} v{oldest}"


def copy_snapshot(
    target, originator_id: object, version: int, new_id: str, new_version: int
) -> int:  # type: ignore[no-untyped-def]
    return run(
        target,
        "INSERT INTO {snapshots} (originator_id, originator_version, topic, state) "
        "SELECT %s, %s, topic, state FROM {snapshots} WHERE originator_id = %s "
        "AND originator_version = %s",
        new_id,
        new_version,
        originator_id,
        version,
    )


@pytest.mark.parametrize(
    ("other_aggregate", "named"),
    [(False, "its events only to version"), (True, "no event of this aggregate")],
)
def test_an_inserted_snapshot_loading_would_use_is_named(
    often, pg_schema, other_aggregate: bool, named: str
) -> None:
    # Given a log whose account ledger's newest snapshot is copied to a version its events
    # never reach, or to an aggregate with no events (both load)
    record_orders(often)
    portfolio, version = portfolio_snapshot(pg_schema)
    new_id = "00000000-0000-4000-8000-000000000017" if other_aggregate else str(portfolio)
    assert copy_snapshot(pg_schema, portfolio, version, new_id, version + 50) == 1
    fresh = SnapshottingOften(env(pg_schema))
    try:
        loaded = fresh.repository.get(UUID(new_id))
    finally:
        fresh.close()
    assert loaded.version == version + 50  # the inserted snapshot is what loading uses

    # When the log is verified
    outcome = often_reader(often, pg_schema).verify()

    # Then the inserted snapshot is named
    assert outcome.chain_break is not None
    assert outcome.chain_break.kind is BreakKind.SNAPSHOT_ALTERED
    assert outcome.chain_break.event == f"snapshot {new_id} v{version + 50}"
    assert named in outcome.chain_break.detail


@pytest.mark.parametrize("statement", ["DELETE FROM {snapshots}", "DROP TABLE {snapshots}"])
def test_a_snapshot_table_emptied_is_harmless_and_verifies(
    often, pg_schema, statement: str
) -> None:
    # Given a log whose snapshots were all deleted (loading replays the events instead)
    record_orders(often)
    assert rows(pg_schema, "SELECT count(*) FROM {snapshots}")[0][0]
    run(pg_schema, statement)

    # When the log is verified
    outcome = often_reader(often, pg_schema).verify()

    # Then it is intact, with no snapshot to check
    assert outcome.is_intact, outcome.chain_break
    assert outcome.snapshots_checked == 0


def test_verify_from_a_position_checks_the_snapshots_of_aggregates_created_after_it(
    often, pg_schema
) -> None:
    # Given a log with snapshots of aggregates created before and after a position
    record_orders(often, 1)
    (middle,) = rows(pg_schema, "SELECT max(notification_id) FROM {events}")[0]
    for n in range(2):
        order_id = often.place_order(place_limit_bid(f"later-{n}", strategy_id="vb", minute=5))
        often.accept_order(AcceptOrder(order_id, f"upbit-later-{n}", cause(5)))
    before = rows(
        pg_schema,
        "SELECT count(*) FROM {snapshots} AS s WHERE EXISTS (SELECT 1 FROM {events} AS e "
        "WHERE e.originator_id = s.originator_id AND e.originator_version = 1 "
        "AND e.notification_id <= %s)",
        middle,
    )[0][0]
    total = rows(pg_schema, "SELECT count(*) FROM {snapshots}")[0][0]
    assert 0 < before < total  # type: ignore[operator]

    # When the log is verified from after it
    outcome = often_reader(often, pg_schema).verify(
        from_position=int(middle) + 1,  # type: ignore[call-overload]
        every_snapshot=True,
    )

    # Then the later aggregates' snapshots are checked, the earlier ones' counted as not
    assert outcome.is_intact, outcome.chain_break
    assert outcome.snapshots_unchecked == before
    assert outcome.snapshots_checked == total - before  # type: ignore[operator]


@pytest.mark.parametrize(
    ("old", "new", "named"),
    [
        ("domain.portfolio.ledger:Portfolio", "domain.positions.position:Position", "a Position"),
        ("domain.portfolio.ledger:Portfolio", "os:system", "not one of the ledger's"),
        ('"allocated_krw":{', '"allocated_krw":{"x":1,', "allocated_krw.x"),
        ('"recent_placements":[', '"recent_placements":[null,', "recent_placements"),
        ('"class_version":2', '"class_version":1', "recent_placements"),
        ("{", "[", "cannot be decoded"),
    ],
)
def test_a_snapshot_edited_to_load_otherwise_is_named_without_resolving_foreign_classes(
    often, pg_schema, old: str, new: str, named: str
) -> None:
    # Given a log whose account ledger's snapshot is edited: the class it loads as, a key
    # added, its class version lowered (the upcaster clears what the events kept), or garbled
    record_orders(often)
    portfolio, version = portfolio_snapshot(pg_schema)
    assert edit_snapshot(pg_schema, portfolio, version, old, new) == 1

    # When the log is verified
    outcome = often_reader(often, pg_schema).verify()

    # Then the snapshot is named, with what differs
    assert outcome.chain_break is not None
    assert outcome.chain_break.kind is BreakKind.SNAPSHOT_ALTERED
    assert outcome.chain_break.event == f"snapshot {portfolio} v{version}"
    assert named in outcome.chain_break.detail


def test_a_snapshot_row_of_another_class_is_named_without_decoding_it(often, pg_schema) -> None:
    # Given a log whose account ledger's snapshot row names another class than the library's
    record_orders(often)
    portfolio, version = portfolio_snapshot(pg_schema)
    assert run(
        pg_schema,
        "UPDATE {snapshots} SET topic = 'os:system' WHERE originator_id = %s "
        "AND originator_version = %s",
        portfolio,
        version,
    )

    # When the log is verified
    outcome = often_reader(often, pg_schema).verify()

    # Then the row is named by its topic
    assert outcome.chain_break is not None
    assert outcome.chain_break.kind is BreakKind.SNAPSHOT_ALTERED
    assert "'os:system'" in outcome.chain_break.detail
