"""The accountant's tables of an audit bundle: orders.csv, fills.csv and daily_pnl.csv.

The events are made by the Trading application on the in-memory store and read back from its
log as the bundle carries them: each one's canonical audit JSON, decoded.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from commands.messages import AcceptOrder, RecordSubmissionFailure
from commands.trading import Trading
from domain.audit.canonical import canonical_audit_json
from domain.audit.daily_pnl import DAILY_PNL_COLUMNS
from domain.audit.summaries import (
    FILL_COLUMNS,
    ORDER_COLUMNS,
    AccountingSummaries,
    plain_decimal,
)
from tests.builders import (
    accept_order,
    allocate_capital,
    cancel_order,
    cause,
    every_event_through_the_application,
    place_limit_ask,
    place_limit_bid,
    record_fill,
    reject_order,
)

Row = dict[str, str]


def audit_events(app: Trading) -> list[dict[str, Any]]:
    """Return every event of the log as a bundle carries it (canonical audit JSON, decoded)."""
    return [
        json.loads(
            canonical_audit_json(n.id, n.topic, n.originator_id, n.originator_version, n.state)
        )
        for n in app.recorder.select_notifications(start=None, limit=10_000)
    ]


def summarise(
    selected: Iterable[dict[str, Any]], remembered: Iterable[dict[str, Any]] = ()
) -> dict[str, list[Row]]:
    """Return each table's rows as {column: cell}, by file name."""
    summaries = AccountingSummaries()
    for event in remembered:
        summaries.remember(event)
    for event in selected:
        summaries.add(event)
    return {
        table.file_name: [dict(zip(table.header, row, strict=True)) for row in table.rows]
        for table in summaries.tables()
    }


def position_of(events: list[dict[str, Any]], topic: str, order_id: UUID) -> int:
    """Return the log position of the order's (first) event of this topic."""
    found = [e for e in events if e["topic"] == topic and e["originator_id"] == str(order_id)]
    return int(found[0]["position"])


def test_tables_come_in_file_order_with_their_headers_even_when_empty():
    tables = AccountingSummaries().tables()

    assert [(t.file_name, t.header, t.rows) for t in tables] == [
        ("orders.csv", ORDER_COLUMNS, []),
        ("fills.csv", FILL_COLUMNS, []),
        ("daily_pnl.csv", DAILY_PNL_COLUMNS, []),
    ]


def test_an_order_filled_in_two_parts_has_its_average_price_fees_and_status(trading: Trading):
    # Given a limit bid of 0.01 BTC filled 0.004 at 50,000,000 then 0.006 at 49,990,000
    order_id = trading.place_order(place_limit_bid("bid-1"))
    trading.accept_order(accept_order(order_id, exchange_order_id="upbit-7"))
    trading.record_fill(record_fill(order_id, trade_id="t-1", qty_btc="0.004"))
    trading.record_fill(
        record_fill(order_id, trade_id="t-2", price_krw="49990000", qty_btc="0.006", minute=5)
    )
    events = audit_events(trading)

    # When the whole log is summarised
    tables = summarise(events)

    # Then the order shows its terms, both fills' totals and its final status
    filled_at = position_of(events, "order.filled", order_id)
    assert tables["orders.csv"] == [
        {
            "order_id": str(order_id),
            "client_order_id": "bid-1",
            "strategy_id": "alpha",
            "market": "KRW-BTC",
            "side": "bid",
            "order_type": "limit",
            "limit_price_krw": "50000000",
            "volume_btc": "0.01",
            "amount_krw": "",
            "placed_at_utc": "2025-01-06T00:01:00+00:00",
            "placed_at_kst": "2025-01-06T09:01:00+09:00",
            "status": "filled",
            "status_reason": "",
            "closed_at_utc": "2025-01-06T00:05:00+00:00",
            "closed_at_kst": "2025-01-06T09:05:00+09:00",
            "exchange_order_id": "upbit-7",
            "fills": "2",
            "filled_qty_btc": "0.01",
            "filled_krw": "499940",  # 200,000 + 299,940
            "average_price_krw": "49994000",
            "fees_krw": "249.97",  # 100 + 149.97, the 0.05 % fee of each fill
            "placed_position": str(position_of(events, "order.placed", order_id)),
            "first_position": str(position_of(events, "order.placed", order_id)),
            "last_position": str(filled_at),
        }
    ]
    # And each fill is a row joined with its settlement in the cash ledger
    assert tables["fills.csv"] == [
        {
            "filled_at_utc": "2025-01-06T00:03:00+00:00",
            "filled_at_kst": "2025-01-06T09:03:00+09:00",
            "trading_day": "2025-01-06",
            "order_id": str(order_id),
            "client_order_id": "bid-1",
            "trade_id": "t-1",
            "strategy_id": "alpha",
            "market": "KRW-BTC",
            "side": "bid",
            "price_krw": "50000000",
            "qty_btc": "0.004",
            "gross_krw": "200000",
            "fee_krw": "100",
            "cash_delta_krw": "-200100",
            "realised_pnl_krw": "0",
            "completes_order": "false",
            "position": str(position_of(events, "order.partially_filled", order_id)),
        },
        {
            "filled_at_utc": "2025-01-06T00:05:00+00:00",
            "filled_at_kst": "2025-01-06T09:05:00+09:00",
            "trading_day": "2025-01-06",
            "order_id": str(order_id),
            "client_order_id": "bid-1",
            "trade_id": "t-2",
            "strategy_id": "alpha",
            "market": "KRW-BTC",
            "side": "bid",
            "price_krw": "49990000",
            "qty_btc": "0.006",
            "gross_krw": "299940",
            "fee_krw": "149.97",
            "cash_delta_krw": "-300089.97",
            "realised_pnl_krw": "0",
            "completes_order": "true",
            "position": str(filled_at),
        },
    ]


def test_a_cancelled_order_keeps_its_reason_and_close_time_and_has_no_fills(trading: Trading):
    # Given a bid accepted, then cancelled by the operator
    order_id = trading.place_order(place_limit_bid("bid-2"))
    trading.accept_order(accept_order(order_id))
    trading.cancel_order(cancel_order(order_id, reason="operator: stale quote", minute=9))

    # When summarised
    tables = summarise(audit_events(trading))

    # Then
    [row] = tables["orders.csv"]
    assert (row["status"], row["status_reason"]) == ("cancelled", "operator: stale quote")
    assert (row["closed_at_utc"], row["closed_at_kst"]) == (
        "2025-01-06T00:09:00+00:00",
        "2025-01-06T09:09:00+09:00",
    )
    assert (row["exchange_order_id"], row["fills"], row["filled_qty_btc"]) == (
        "upbit-uuid-1",
        "0",
        "0",
    )
    assert (row["average_price_krw"], row["fees_krw"]) == ("", "0")
    assert tables["fills.csv"] == []
    assert tables["daily_pnl.csv"] == []


def test_a_rejected_order_names_who_rejected_it(trading: Trading):
    # Given a bid the exchange refused before accepting it
    order_id = trading.place_order(place_limit_bid("bid-3"))
    trading.reject_order(
        reject_order(order_id, reason="insufficient_funds", rejected_by="exchange")
    )

    # When summarised
    [row] = summarise(audit_events(trading))["orders.csv"]

    # Then
    assert (row["status"], row["status_reason"], row["exchange_order_id"]) == (
        "rejected",
        "exchange: insufficient_funds",
        "",
    )
    assert row["closed_at_utc"] == "2025-01-06T00:02:00+00:00"


def test_an_order_whose_sending_failed_stays_so_until_the_exchange_answers(trading: Trading):
    # Given two bids whose sending got no answer; the second is then found at the exchange
    stuck = trading.place_order(place_limit_bid("bid-4"))
    found = trading.place_order(place_limit_bid("bid-5"))
    for order_id in (stuck, found):
        trading.record_submission_failure(RecordSubmissionFailure(order_id, "504", cause(2)))
    trading.accept_order(AcceptOrder(found, "upbit-9", cause(3)))

    # When summarised
    rows = summarise(audit_events(trading))["orders.csv"]

    # Then the first is submission_failed with the failure, the second open with no reason
    assert [
        (r["client_order_id"], r["status"], r["status_reason"], r["closed_at_utc"]) for r in rows
    ] == [
        ("bid-4", "submission_failed", "504", ""),
        ("bid-5", "open", "", ""),
    ]


def test_a_fill_of_an_order_placed_before_the_selection_shows_the_remembered_terms(
    trading: Trading,
):
    # Given a bid placed and accepted before the exported range, and filled in it
    order_id = trading.place_order(place_limit_bid("early-bid"))
    trading.accept_order(accept_order(order_id))
    events = audit_events(trading)
    start = len(events)
    trading.record_fill(record_fill(order_id, trade_id="t-9", qty_btc="0.01", day=1))
    events = audit_events(trading)
    placed = [e for e in events[:start] if e["topic"] == "order.placed"]

    # When only the range is selected and the earlier placement is remembered
    tables = summarise(events[start:], remembered=placed)

    # Then the fill has the order's strategy, market and side
    [fill] = tables["fills.csv"]
    assert (fill["client_order_id"], fill["strategy_id"], fill["market"], fill["side"]) == (
        "early-bid",
        "alpha",
        "KRW-BTC",
        "bid",
    )
    assert (fill["trading_day"], fill["gross_krw"], fill["cash_delta_krw"]) == (
        "2025-01-07",
        "500000",
        "-500250",
    )
    # And the order has a row (for its selected fill) whose placement lies before its events
    [order] = tables["orders.csv"]
    assert (order["status"], order["placed_at_utc"], order["exchange_order_id"]) == (
        "filled",
        "2025-01-06T00:01:00+00:00",
        "",
    )
    assert int(order["placed_position"]) < int(order["first_position"])
    assert order["first_position"] == order["last_position"] == fill["position"]


def test_a_remembered_placement_alone_makes_no_row(trading: Trading):
    trading.place_order(place_limit_bid("never-selected"))
    placed = [e for e in audit_events(trading) if e["topic"] == "order.placed"]

    tables = summarise([], remembered=placed)

    assert [len(rows) for rows in tables.values()] == [0, 0, 0]


def test_only_order_placed_events_can_be_remembered(trading: Trading):
    order_id = trading.place_order(place_limit_bid())
    trading.accept_order(accept_order(order_id))
    accepted = audit_events(trading)[-1]

    with pytest.raises(ValueError, match="order.accepted was found"):
        AccountingSummaries().remember(accepted)


def test_daily_pnl_is_per_trading_day_and_strategy_with_a_total_and_cumulative_nets(
    trading: Trading,
):
    # Given alpha buys 0.01 BTC on 2025-01-06 and sells it on 2025-01-07 for 10,000 KRW profit,
    # and beta buys 0.002 BTC at 23:59 UTC on 2025-01-06: already 08:59 KST on 01-07, but
    # still in the session of 2025-01-06 (sessions open at 09:00 KST), as its settlement says
    trading.allocate_capital(allocate_capital(strategy_id="beta"))
    bid = trading.place_order(place_limit_bid("alpha-bid"))
    trading.accept_order(accept_order(bid))
    trading.record_fill(record_fill(bid, trade_id="t-1", minute=3))
    late = trading.place_order(place_limit_bid("beta-bid", strategy_id="beta", minute=1430))
    trading.accept_order(AcceptOrder(late, "upbit-2", cause(1435)))
    trading.record_fill(record_fill(late, trade_id="t-2", qty_btc="0.002", minute=1439))
    ask = trading.place_order(place_limit_ask("alpha-ask", day=1, minute=0))
    trading.accept_order(AcceptOrder(ask, "upbit-3", cause(0, day=1)))
    trading.record_fill(record_fill(ask, trade_id="t-3", price_krw="51000000", day=1, minute=1))

    # When summarised
    tables = summarise(audit_events(trading))

    # Then beta's fill is on its session's day, not on the KST calendar date
    beta_fill = tables["fills.csv"][1]
    assert (beta_fill["filled_at_kst"], beta_fill["trading_day"]) == (
        "2025-01-07T08:59:00+09:00",
        "2025-01-06",
    )
    # And each day lists its strategies, then ALL; net = realised - fees; cumulative per row key
    assert [tuple(row.values()) for row in tables["daily_pnl.csv"]] == [
        ("2025-01-06", "alpha", "1", "500000", "0", "250", "0", "-250", "-500250", "-250"),
        ("2025-01-06", "beta", "1", "100000", "0", "50", "0", "-50", "-100050", "-50"),
        ("2025-01-06", "ALL", "2", "600000", "0", "300", "0", "-300", "-600300", "-300"),
        ("2025-01-07", "alpha", "1", "0", "510000", "255", "10000", "9745", "509745", "9495"),
        ("2025-01-07", "ALL", "1", "0", "510000", "255", "10000", "9745", "509745", "9445"),
    ]


def test_sums_are_exact_decimals(trading: Trading):
    # Given fills of 0.1 and 0.2 BTC with fees of 0.1 and 0.2 KRW (in float: 0.30000000000000004)
    order_id = trading.place_order(place_limit_bid(price_krw="10000000", volume_btc="0.3"))
    trading.accept_order(accept_order(order_id))
    for trade_id, figure in (("t-1", "0.1"), ("t-2", "0.2")):
        trading.record_fill(
            record_fill(
                order_id, trade_id=trade_id, price_krw="10000000", qty_btc=figure, fee_krw=figure
            )
        )

    # When summarised
    tables = summarise(audit_events(trading))

    # Then
    [order] = tables["orders.csv"]
    assert (order["filled_qty_btc"], order["fees_krw"], order["average_price_krw"]) == (
        "0.3",
        "0.3",
        "10000000",
    )
    [day] = [row for row in tables["daily_pnl.csv"] if row["strategy_id"] == "alpha"]
    assert (day["buy_krw"], day["fees_krw"], day["net_pnl_krw"], day["cash_delta_krw"]) == (
        "3000000",
        "0.3",
        "-0.3",
        "-3000000.3",
    )


def test_plain_decimal_has_no_exponent_no_trailing_zeros_and_no_rounding():
    assert plain_decimal(Decimal("1E+2")) == "100"
    assert plain_decimal(Decimal("-200100.0000000")) == "-200100"
    assert plain_decimal(Decimal("0.00000001")) == "0.00000001"
    assert plain_decimal(Decimal("-0.000")) == "0"
    # 33 significant digits: more than the default context's 28, kept as they are
    assert plain_decimal(Decimal("1.23456789012345678901234567890123")) == (
        "1.23456789012345678901234567890123"
    )


def test_events_about_anything_else_are_ignored(bare_trading: Trading):
    # Given a log with every kind of event, and an event of a topic the summaries never heard of
    every_event_through_the_application(bare_trading)
    events = audit_events(bare_trading)
    stranger = {"position": 10_000, "topic": "x.unknown.happened", "originator_id": "x"}
    about_orders = [e for e in events if e["topic"].startswith("order.")]
    settlements = [e for e in events if e["topic"] == "ledger.fill.settled"]

    # When everything is added, and when only the order events and settlements are
    everything = summarise([*events, stranger])
    only_relevant = summarise([*about_orders, *settlements])

    # Then the other events change nothing, and the rows are the orders, fills and settlements
    assert everything == only_relevant
    assert len(everything["orders.csv"]) == len({e["originator_id"] for e in about_orders})
    assert len(everything["fills.csv"]) == len(settlements)
    assert {row["status"] for row in everything["orders.csv"]} >= {
        "filled",
        "cancelled",
        "rejected",
    }
