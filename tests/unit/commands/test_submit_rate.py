"""The submit-rate limit in the ledger: orders the account placed in the trailing 60 seconds of
domain time, counted on the cash ledger's own events; operators' orders over it are refused,
strategies' orders denied, and older events and snapshots read as having no limit."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal as D

import pytest
from eventsourcing.domain import Snapshot
from eventsourcing.persistence import StoredEvent

from commands.messages import PlaceOrder
from commands.trading import Trading
from domain.errors import SubmitRateLimitError
from domain.events import Cause
from domain.orders.order import Order
from domain.portfolio.ledger import Portfolio
from domain.risk.directive import RiskDirective
from domain.risk.limits import Limits, RiskLimits
from tests.builders import (
    POPO_ENV,
    accept_order,
    allocate_capital,
    at,
    change_trading_state,
    events_since,
    last_notification_id,
    place_limit_ask,
    place_limit_bid,
    record_fill,
    reject_order,
    set_risk_limits,
)


def bid(n: int, *, seconds: int = 60) -> PlaceOrder:
    """Return a 5,000,000 KRW x 0.001 limit bid `bid-n`, dated `seconds` after minute 0."""
    command = place_limit_bid(f"bid-{n}", volume_btc="0.001")
    when = Cause(at(0) + timedelta(seconds=seconds), "tester", f"request-{n}", "flow-1")
    return replace(command, cause=when)


def ask(n: int, *, seconds: int) -> PlaceOrder:
    """Return a limit ask `ask-n` of 0.0005 BTC, dated `seconds` after minute 0."""
    command = place_limit_ask(f"ask-{n}", volume_btc="0.0005")
    when = Cause(at(0) + timedelta(seconds=seconds), "tester", f"request-ask-{n}", "flow-1")
    return replace(command, cause=when)


def limited(trading: Trading, per_minute: int = 2) -> Trading:
    trading.set_risk_limits(set_risk_limits(max_orders_per_minute=str(per_minute)))
    return trading


class TestOperatorsOrders:
    def test_order_over_the_rate_is_refused_naming_count_limit_and_window_and_appends_nothing(
        self, trading: Trading
    ) -> None:
        # Given two orders placed at 00:01:00 under a limit of 2 a minute
        limited(trading)
        trading.place_order(bid(1))
        trading.place_order(bid(2, seconds=90))
        before = last_notification_id(trading)
        # When a third is placed 59 seconds after the first
        with pytest.raises(SubmitRateLimitError) as refused:
            trading.place_order(bid(3, seconds=119))
        # Then it is refused, naming the count, the limit and the window, and nothing is recorded
        assert "placed 2 orders in the last 60 seconds, at its limit of 2 orders per minute" in (
            str(refused.value)
        )
        assert last_notification_id(trading) == before

    def test_the_window_slides_open_once_the_oldest_order_is_60_seconds_old(
        self, trading: Trading
    ) -> None:
        # Given two orders at 00:01:00 and 00:01:30 under a limit of 2 a minute
        limited(trading)
        trading.place_order(bid(1))
        trading.place_order(bid(2, seconds=90))
        # When orders follow at 00:02:00 (the first is 60 s old) and at 00:02:10
        trading.place_order(bid(3, seconds=120))
        with pytest.raises(SubmitRateLimitError, match="placed 2 orders"):
            trading.place_order(bid(4, seconds=130))
        # Then the first was allowed (one order left in the window), the second refused;
        # at 00:02:30 the order of 00:01:30 has left the window as well
        trading.place_order(bid(4, seconds=150))

    def test_without_the_limit_orders_are_placed_at_any_rate(self, trading: Trading) -> None:
        for n in range(20):
            trading.place_order(bid(n))

        portfolio = trading.get_portfolio()
        assert portfolio is not None and portfolio.orders_placed_within(at(1)) == 20

    def test_orders_that_ended_still_count_for_the_window(self, trading: Trading) -> None:
        limited(trading, 1)
        first = trading.place_order(bid(1))
        trading.reject_order(replace(reject_order(first), cause=bid(1, seconds=61).cause))

        with pytest.raises(SubmitRateLimitError):
            trading.place_order(bid(2, seconds=62))

    def test_a_batch_over_the_rate_is_refused_whole(self, trading: Trading) -> None:
        limited(trading)
        before = last_notification_id(trading)

        with pytest.raises(SubmitRateLimitError, match="placed 2 orders"):
            trading.place_orders([bid(1), bid(2), bid(3)])

        assert last_notification_id(trading) == before

    def test_reducing_lets_asks_out_over_the_rate(self, trading: Trading) -> None:
        # Given 0.001 BTC held, and an ask at 00:03:05 that used the limit of 1 a minute
        limited(trading, 1)
        bought = trading.place_order(bid(1))
        trading.accept_order(accept_order(bought))
        trading.record_fill(record_fill(bought, qty_btc="0.001"))
        trading.place_order(ask(1, seconds=185))
        with pytest.raises(SubmitRateLimitError):
            trading.place_order(ask(2, seconds=190))
        # When trading is REDUCING and the same ask is placed again
        trading.change_trading_state(change_trading_state("REDUCING", minute=3))
        trading.place_order(ask(2, seconds=190))
        # Then it was placed: reducing exposure is not throttled (and it counts)
        portfolio = trading.get_portfolio()
        assert portfolio is not None and portfolio.orders_placed_within(at(3)) == 2


class TestStrategyOrders:
    def test_strategy_order_over_the_rate_is_denied_by_risk_with_the_rules_code(
        self, trading: Trading
    ) -> None:
        # Given two orders placed in the window under a limit of 2 a minute
        limited(trading)
        trading.place_strategy_order(bid(1))
        trading.place_strategy_order(bid(2))
        before = last_notification_id(trading)
        # When a strategy places a third, and a fourth
        third = trading.place_strategy_order(bid(3))
        fourth = trading.place_strategy_order(bid(4))
        # Then both are placed locking nothing and rejected by risk, coded submit_rate_limit;
        # a denied order is not a placement, so the fourth still counts two
        placed, rejected, _, rejected_again = events_since(trading, before)
        assert isinstance(placed, Order.Placed) and (placed.locked_krw, placed.locked_btc) == (
            D(0),
            D(0),
        )
        assert isinstance(rejected, Order.Rejected) and rejected.rejected_by == "risk"
        assert rejected.reason.startswith("submit_rate_limit: the account placed 2 orders")
        assert isinstance(rejected_again, Order.Rejected)
        assert rejected_again.reason.startswith("submit_rate_limit: the account placed 2 orders")
        assert third.is_denied and fourth.is_denied
        assert third.denial is not None and third.denial.code == "submit_rate_limit"

    def test_a_runs_order_counts_every_order_of_the_account_in_its_minute(self) -> None:
        # Given the log of a run's account with a limit of 1 a minute, used up by an operator
        log = Trading(POPO_ENV)
        log.allocate_capital(allocate_capital())
        limited(log, 1)
        log.place_operator_order(bid(1))
        # When the run places its strategy's order in that minute (on the log itself)
        placement = log.place_strategy_order(bid(2))
        # Then the log's rule denies it, and only the operator's order counts
        assert placement.denial is not None and placement.denial.code == "submit_rate_limit"
        portfolio = log.get_portfolio()
        assert portfolio is not None and portfolio.orders_placed_within(at(1)) == 1


class TestOlderRecords:
    def test_a_version_1_limits_set_event_reads_as_limits_without_a_submit_rate(self) -> None:
        # Given a log holding risk.limits.set as version 1 wrote it: no max_orders_per_minute
        # and no class_version
        recent = Trading(POPO_ENV)
        recent.allocate_capital(allocate_capital())
        recent.set_risk_limits(set_risk_limits(max_order_krw="2000000"))
        stored = [
            n
            for n in recent.recorder.select_notifications(start=None, limit=100)
            if n.topic.startswith("risk.")
        ]
        old_state = []
        for n in stored:
            state = json.loads(n.state)
            if n.topic == "risk.limits.set":
                assert state.pop("class_version") == 2
                assert state.pop("max_orders_per_minute") is None
            old_state.append(state)
        old = Trading(POPO_ENV)
        old.recorder.insert_events(
            [
                StoredEvent(n.originator_id, n.originator_version, n.topic, json.dumps(s).encode())
                for n, s in zip(stored, old_state, strict=True)
            ]
        )
        # When the risk record and the event are read
        risk = old.get_risk_limits()
        [(_, event)] = list(old.read_events(["risk.limits.set"]))
        # Then the limits are as set, without a submit-rate limit; the stored bytes unchanged
        assert risk is not None and risk.limits == Limits(max_order_krw=D(2_000_000))
        assert isinstance(event, RiskLimits.LimitsSet) and event.max_orders_per_minute is None
        directive = RiskDirective.from_event(event)
        assert directive is not None and directive.limits == Limits(max_order_krw=D(2_000_000))
        [again] = [
            n
            for n in old.recorder.select_notifications(start=None, limit=100)
            if n.topic == "risk.limits.set"
        ]
        assert "max_orders_per_minute" not in json.loads(again.state)

    def test_a_version_1_snapshot_of_the_cash_ledger_reads_as_one_without_placements(
        self, trading: Trading
    ) -> None:
        # Given a snapshot of the cash ledger as version 1 took it (no recent placements)
        trading.place_order(bid(1))
        portfolio = trading.get_portfolio()
        assert portfolio is not None and portfolio.recent_placements == [at(1)]
        snapshot = Snapshot.take(portfolio)
        state = dict(snapshot.state)
        assert state.pop("class_version") == 2
        state.pop("recent_placements")
        old = Snapshot(
            originator_id=snapshot.originator_id,
            originator_version=snapshot.originator_version,
            timestamp=snapshot.timestamp,
            topic=snapshot.topic,
            state=state,
        )
        # When it is read
        restored = old.mutate(None)
        # Then it holds its figures and no recent placements
        assert isinstance(restored, Portfolio)
        assert restored.recent_placements == []
        assert restored.book("alpha") == portfolio.book("alpha")
