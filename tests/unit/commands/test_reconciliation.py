"""Reconciliation of a trading run with its exchange (the in-memory fake behind the port)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from uuid import UUID, uuid5

import pytest

from commands.errors import ExchangeUnavailableError, UnknownReconciliationError
from commands.handlers import reconciliations
from commands.messages import AcknowledgeReconciliation, OpenRun
from commands.ports import OrderTicket
from commands.processes.reconciliation import Reconciler
from commands.trading import Trading
from domain.errors import ReconciliationAcknowledgementError, ReconciliationNotApplicableError
from domain.events import Cause
from domain.ids import derive_id
from domain.orders.terms import OrderSide, OrderType
from domain.reconciliation.reconciliation import Reconciliation, reconciliation_id
from domain.risk.limits import RiskLimits
from domain.risk.trading_state import TradingState
from tests.builders import (
    POPO_ENV,
    accept_order,
    at,
    bus_names_since,
    cancel_order,
    cause,
    change_trading_state,
    last_notification_id,
    place_limit_bid,
)
from tests.fakes.exchange import FakeExchange
from tests.unit.commands.processes.runs import MODEL

RUN = "sandbox-test"
CAPITAL = Decimal("10000000")
D = Decimal


def open_exchange_run(trading: Trading, run_id: str = RUN, exchange: str = "sandbox") -> None:
    trading.open_run(
        OpenRun(
            run_id=run_id,
            mode="live" if exchange != "paper" else "paper",
            exchange=exchange,
            market="KRW-BTC",
            strategies={"alpha": {}},
            capital_krw=CAPITAL,
            fee_rate=MODEL.fee_rate,
            slippage_bps=MODEL.slippage_bps,
            max_participation=MODEL.max_participation,
            first_candle_at=at(0),
            cause=Cause(at(0), "operator:test", "ledger run", "ledger run"),
        )
    )


@pytest.fixture
def trading() -> Iterator[Trading]:
    app = Trading(POPO_ENV, account="main")
    open_exchange_run(app)
    yield app
    app.close()


@pytest.fixture
def exchange() -> FakeExchange:
    fake = FakeExchange(MODEL, at(0))
    fake.fund("KRW", CAPITAL)
    return fake


def reconcile(
    trading: Trading, exchange: FakeExchange, trigger: str = "reconnect", minute: int = 10
) -> Reconciliation:
    reconciler = Reconciler(trading, exchange)
    return reconciler.reconcile(RUN, trigger, cause(minute, actor="reconciliation"))


def kinds(rec: Reconciliation) -> list[tuple[str, bool]]:
    return [(d["kind"], d["is_explained"]) for d in rec.differences]


def ticket(order_id: UUID, price: str = "50000000", volume: str = "0.01") -> OrderTicket:
    return OrderTicket(order_id, "KRW-BTC", OrderSide.BID, OrderType.LIMIT, D(price), D(volume))


def place(trading: Trading, client_order_id: str = "bid-1", **figures: str) -> UUID:
    return trading.place_order(place_limit_bid(client_order_id, **figures))


def state(trading: Trading) -> RiskLimits:
    risk = trading.get_risk_limits()
    assert risk is not None
    return risk


def acknowledge(
    trading: Trading, rec_id: UUID, reason: str = "checked at Upbit", actor: str = "ops"
) -> Reconciliation:
    return reconciliations.acknowledge_reconciliation(
        trading, AcknowledgeReconciliation(rec_id, reason, cause(30, actor=f"api:{actor}"))
    )


class TestDifferences:
    def test_a_first_reconciliation_with_nothing_open_records_the_baseline_and_no_difference(
        self, trading: Trading, exchange: FakeExchange
    ) -> None:
        # Given a sandbox run whose exchange holds its capital
        before = last_notification_id(trading)

        # When it is reconciled at start
        rec = reconcile(trading, exchange, "start")

        # Then a started and a completed event, its id uuid5 of the run and sequence 1
        assert bus_names_since(trading, before) == [
            "exchange.reconciliation.started",
            "exchange.reconciliation.completed",
        ]
        assert (
            rec.reconciliation_id
            == reconciliation_id(RUN, 1)
            == derive_id("reconciliation", RUN, "1")
        )
        assert (rec.sequence, rec.trigger, rec.differences) == (1, "start", [])
        assert rec.figures["baseline_sequence"] == 1
        assert rec.snapshot().exchange.krw == rec.snapshot().ledger.krw == CAPITAL
        assert state(trading).state is TradingState.ACTIVE

    def test_an_order_the_log_holds_new_that_the_exchange_has_is_an_explained_lost_answer(
        self, trading: Trading, exchange: FakeExchange
    ) -> None:
        # Given an order sent whose answer was lost (the log holds it NEW)
        order_id = place(trading)
        exchange.submit(ticket(order_id))

        # When reconciled
        rec = reconcile(trading, exchange, "start")

        # Then one explained difference, and trading stays ACTIVE
        assert kinds(rec) == [("acknowledgement_missing", True)]
        assert rec.differences[0]["order_id"] == str(order_id)
        assert not rec.is_halting and state(trading).state is TradingState.ACTIVE

    def test_a_new_order_the_exchange_never_received_is_no_difference(
        self, trading: Trading, exchange: FakeExchange
    ) -> None:
        place(trading)
        assert reconcile(trading, exchange, "start").differences == []

    def test_trades_and_an_end_the_log_lacks_are_explained_and_count_in_the_balances(
        self, trading: Trading, exchange: FakeExchange
    ) -> None:
        # Given an accepted limit bid, and a baseline reconciliation
        order_id = place(trading)
        exchange.submit(ticket(order_id))
        trading.accept_order(accept_order(order_id))
        reconcile(trading, exchange, "start")

        # When the exchange fills it completely, unknown to the log, and the run reconnects
        from domain.candles.candle import Candle

        exchange.close(
            Candle(at(1), D("50000000"), D("50000000"), D("49000000"), D("49500000"), D("10"))
        )
        rec = reconcile(trading, exchange, minute=20)

        # Then the missing trades and end are explained, and the balances agree with them
        assert kinds(rec) == [("fills_missing", True), ("end_missing", True)]
        assert rec.figures["unrecorded_base"] == D("0.01")
        assert rec.figures["unrecorded_krw"] == -(D("500000") + D("500000") * MODEL.fee_rate)
        assert rec.unexplained == 0 and state(trading).state is TradingState.ACTIVE

    def test_an_open_order_the_exchange_does_not_have_is_unexplained_and_halts(
        self, trading: Trading, exchange: FakeExchange
    ) -> None:
        # Given an order the log holds OPEN that never reached the exchange
        order_id = place(trading)
        trading.accept_order(accept_order(order_id))
        before = last_notification_id(trading)

        # When reconciled
        rec = reconcile(trading, exchange, "start")

        # Then it is unexplained and trading is halted by the reconciliation, in one go
        assert kinds(rec) == [("order_missing_at_exchange", False)]
        assert bus_names_since(trading, before) == [
            "exchange.reconciliation.started",
            "exchange.reconciliation.difference_found",
            "exchange.reconciliation.completed",
            "risk.trading.halted",
        ]
        risk = state(trading)
        assert risk.state is TradingState.HALTED and rec.is_halting
        assert str(rec.id) in risk.state_reason and "order_missing_at_exchange" in risk.state_reason
        halted = list(trading.events.get(risk.id))[-1]
        assert isinstance(halted, RiskLimits.TradingHalted)
        assert halted.actor == "reconciliation"
        assert halted.causation_id == f"reconciliation:{rec.id}"

    def test_a_foreign_open_order_is_unexplained_and_halts(
        self, trading: Trading, exchange: FakeExchange
    ) -> None:
        foreign = uuid5(UUID(int=7), "placed by hand")
        exchange.submit(ticket(foreign))

        rec = reconcile(trading, exchange, "start")

        assert kinds(rec) == [("unknown_open_order", False)]
        assert rec.differences[0]["order_id"] == str(foreign)
        assert state(trading).state is TradingState.HALTED

    def test_an_order_working_at_the_exchange_that_the_log_holds_ended_is_unexplained(
        self, trading: Trading, exchange: FakeExchange
    ) -> None:
        # Given an order the log cancelled while the exchange still works it
        order_id = place(trading)
        exchange.submit(ticket(order_id))
        trading.accept_order(accept_order(order_id))
        trading.cancel_order(cancel_order(order_id))

        rec = reconcile(trading, exchange, "start")

        assert kinds(rec) == [("ended_order_open", False)]
        assert "CANCELLED" in rec.differences[0]["log_says"]
        assert state(trading).state is TradingState.HALTED

    def test_a_fill_the_exchange_does_not_list_is_unexplained(
        self, trading: Trading, exchange: FakeExchange
    ) -> None:
        from tests.builders import record_fill

        order_id = place(trading)
        exchange.submit(ticket(order_id))
        trading.accept_order(accept_order(order_id))
        trading.record_fill(record_fill(order_id, qty_btc="0.004"))

        rec = reconcile(trading, exchange, "start")

        assert kinds(rec) == [("fill_mismatch", False)]
        assert "no such trade" in rec.differences[0]["exchange_says"]

    def test_money_that_no_trade_explains_is_an_unexplained_balance_mismatch(
        self, trading: Trading, exchange: FakeExchange
    ) -> None:
        # Given a baseline, then a deposit of 1,000 KRW the ledger knows nothing of
        reconcile(trading, exchange, "start")
        exchange.fund("KRW", D("1000"))

        # When reconciled again
        rec = reconcile(trading, exchange, minute=20)

        # Then the KRW total differs by exactly the deposit, and trading halts
        assert kinds(rec) == [("balance_mismatch", False)]
        assert "+1000" in rec.differences[0]["explanation"]
        assert state(trading).state is TradingState.HALTED

    def test_the_first_reconciliation_takes_a_bigger_account_as_its_baseline(
        self, trading: Trading, exchange: FakeExchange
    ) -> None:
        # A real account may hold more than the run's capital
        exchange.fund("KRW", D("123456789"))
        exchange.fund("BTC", D("0.5"))
        assert reconcile(trading, exchange, "start").differences == []
        assert reconcile(trading, exchange, minute=20).differences == []

    def test_an_exchange_that_cannot_be_asked_records_nothing(
        self, trading: Trading, exchange: FakeExchange
    ) -> None:
        before = last_notification_id(trading)
        exchange.arm("down")
        with pytest.raises(ExchangeUnavailableError):
            reconcile(trading, exchange, "start")
        assert last_notification_id(trading) == before

    def test_a_paper_run_is_not_reconciled(self, exchange: FakeExchange) -> None:
        app = Trading(POPO_ENV, account="main")
        open_exchange_run(app, "paper-run", exchange="paper")
        with pytest.raises(ReconciliationNotApplicableError, match="no exchange"):
            Reconciler(app, exchange).reconcile("paper-run", "start", cause(1))


class TestAcknowledgement:
    def halted(self, trading: Trading, exchange: FakeExchange) -> Reconciliation:
        exchange.submit(ticket(uuid5(UUID(int=7), "foreign")))
        rec = reconcile(trading, exchange, "start")
        assert state(trading).state is TradingState.HALTED
        return rec

    def test_acknowledging_the_halting_reconciliation_resumes_with_the_operators_actor_and_reason(
        self, trading: Trading, exchange: FakeExchange
    ) -> None:
        # Given trading halted by a reconciliation
        rec = self.halted(trading, exchange)
        before = last_notification_id(trading)

        # When an operator acknowledges it
        acknowledged = acknowledge(trading, rec.reconciliation_id, "my manual order", "kim")

        # Then the acknowledgement and the resumption are recorded, with actor and reason
        assert bus_names_since(trading, before) == [
            "exchange.reconciliation.acknowledged",
            "risk.trading.resumed",
        ]
        assert acknowledged.is_acknowledged and acknowledged.acknowledged_by == "api:kim"
        risk = state(trading)
        assert risk.state is TradingState.ACTIVE and "my manual order" in risk.state_reason
        assert list(trading.events.get(risk.id))[-1].actor == "api:kim"

    def test_an_acknowledged_difference_seen_again_is_explained_and_does_not_halt_again(
        self, trading: Trading, exchange: FakeExchange
    ) -> None:
        rec = self.halted(trading, exchange)
        acknowledge(trading, rec.reconciliation_id)

        again = reconcile(trading, exchange, minute=40)

        assert kinds(again) == [("unknown_open_order", True)]
        assert "acknowledged in reconciliation 1 by api:ops" in again.differences[0]["explanation"]
        assert state(trading).state is TradingState.ACTIVE

    def test_an_acknowledged_balance_becomes_the_baseline(
        self, trading: Trading, exchange: FakeExchange
    ) -> None:
        reconcile(trading, exchange, "start")
        exchange.fund("KRW", D("1000"))
        mismatch = reconcile(trading, exchange, minute=20)
        acknowledge(trading, mismatch.reconciliation_id, "a deposit of mine")

        after = reconcile(trading, exchange, minute=40)

        assert after.differences == [] and after.figures["baseline_sequence"] == 2

    def test_acknowledging_twice_or_a_clean_one_or_an_unknown_one_is_refused_and_records_nothing(
        self, trading: Trading, exchange: FakeExchange
    ) -> None:
        rec = self.halted(trading, exchange)
        acknowledge(trading, rec.reconciliation_id)
        exchange.orders.clear()
        clean = reconcile(trading, exchange, minute=40)
        before = last_notification_id(trading)

        with pytest.raises(ReconciliationAcknowledgementError, match="already acknowledged"):
            acknowledge(trading, rec.reconciliation_id)
        with pytest.raises(ReconciliationAcknowledgementError, match="no unexplained"):
            acknowledge(trading, clean.reconciliation_id)
        with pytest.raises(UnknownReconciliationError, match="does not exist"):
            acknowledge(trading, uuid5(UUID(int=1), "nothing"))
        assert last_notification_id(trading) == before

    def test_trading_resumes_only_when_the_last_unacknowledged_reconciliation_is_acknowledged(
        self, trading: Trading, exchange: FakeExchange
    ) -> None:
        # Given two reconciliations with unexplained differences (the second while HALTED)
        first = self.halted(trading, exchange)
        exchange.submit(ticket(uuid5(UUID(int=7), "another foreign")))
        second = reconcile(trading, exchange, minute=20)
        assert second.unexplained == 2 and not second.is_halting

        # When the first is acknowledged, trading stays HALTED; after the second, it resumes
        acknowledge(trading, first.reconciliation_id)
        assert state(trading).state is TradingState.HALTED
        acknowledge(trading, second.reconciliation_id)
        assert state(trading).state is TradingState.ACTIVE

    def test_an_operators_halt_after_the_reconciliations_is_not_lifted_by_an_acknowledgement(
        self, trading: Trading, exchange: FakeExchange
    ) -> None:
        rec = self.halted(trading, exchange)
        trading.change_trading_state(change_trading_state("ACTIVE", reason="looked", minute=20))
        trading.change_trading_state(change_trading_state("HALTED", reason="maintenance"))

        acknowledged = acknowledge(trading, rec.reconciliation_id)

        assert state(trading).state is TradingState.HALTED
        assert state(trading).state_reason == "maintenance"
        events = list(trading.events.get(acknowledged.id))
        assert isinstance(events[-1], Reconciliation.Acknowledged) and not events[-1].has_resumed


def test_a_run_traded_on_the_exchange_reconciles_with_no_difference() -> None:
    # Given a run on an exchange over a day of real candles, reconciled when it started
    from tests.unit.commands.processes.runs import (
        NAMES,
        RUN_ID,
        exchange_loop,
        open_run,
        real_candles,
    )
    from tests.unit.commands.processes.test_exchange_run import drive

    candles = real_candles(2)
    trading = Trading(POPO_ENV, account="main")
    first = candles[0].open_time
    open_run(trading, first, exchange="sandbox")
    exchange = FakeExchange(MODEL, first)
    exchange.fund("KRW", CAPITAL * len(NAMES))
    reconciler = Reconciler(trading, exchange)
    assert (
        reconciler.reconcile(RUN_ID, "start", Cause(first, "reconciliation", "r", "r")).differences
        == []
    )

    # When it trades (with a lost answer a third of the way in) and then reconciles
    loop, _ = exchange_loop(trading, exchange)

    def arm(index: int) -> None:
        if index == len(candles) // 3:
            exchange.arm("lost_after_create")

    drive(trading, exchange, loop, candles, before=arm)
    end = candles[-1].close_time + timedelta(minutes=1)
    rec = reconciler.reconcile(RUN_ID, "reconnect", Cause(end, "reconciliation", "r2", "r2"))

    # Then the exchange's balances are exactly the baseline plus the ledger's fills
    fills = sum(len(o.trades) for o in exchange.orders.values())
    assert fills >= 3
    assert rec.unexplained == 0, rec.differences
    assert exchange.totals["KRW"] != CAPITAL * len(NAMES)
    assert state(trading).state is TradingState.ACTIVE
