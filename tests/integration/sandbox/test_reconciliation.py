"""Reconciliation against the sandbox over HTTP (the real gateway), on a PostgreSQL log.

The sandbox plays the exchange; orders are placed at it directly (a foreign order), or through
the gateway without the log hearing the answer (a process killed right after sending).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

from api.bootstrap import System
from api.http.app import create_app
from api.settings import load_settings
from commands.messages import AcceptOrder, OpenRun, PlaceOrder, RecordFill
from commands.processes.reconciliation import Reconciler
from commands.trading import Trading
from domain.events import Cause
from domain.orders.terms import OrderSide
from domain.risk.trading_state import TradingState
from tests.contracts.exchange_gateway import NOW, RESTING_BID, limit, market_bid
from tests.integration.sandbox.test_execution_gateway import SandboxVenue, sandbox_venue

RUN = "sandbox-recon"
CAPITAL = Decimal("10000000")
TOKEN = "test-token-0123456789abcdef"


@pytest.fixture
def trading(pg_schema) -> Iterator[Trading]:  # type: ignore[no-untyped-def]
    app = Trading(pg_schema.eventsourcing_env())
    app.open_run(
        OpenRun(
            run_id=RUN,
            mode="live",
            exchange="sandbox",
            market="KRW-BTC",
            strategies={"alpha": {}},
            capital_krw=CAPITAL,
            fee_rate=Decimal("0.0005"),
            slippage_bps=Decimal(0),
            max_participation=None,
            first_candle_at=NOW.replace(second=0),
            cause=Cause(NOW, "operator:test", "open", RUN),
        )
    )
    yield app
    app.close()


@pytest.fixture
def venue() -> Iterator[SandboxVenue]:
    with sandbox_venue(krw=str(CAPITAL)) as v:
        yield v


def reconcile(trading: Trading, venue: SandboxVenue, trigger: str, minute: int = 0):  # type: ignore[no-untyped-def]
    cause = Cause(NOW + timedelta(minutes=minute), "reconciliation", f"r-{minute}", RUN)
    return Reconciler(trading, venue.gateway).reconcile(RUN, trigger, cause)


def test_a_foreign_order_at_the_sandbox_halts_until_acknowledged_through_the_api(
    trading: Trading, venue: SandboxVenue
) -> None:
    # Given a baseline, then an order placed at the sandbox by someone else (with an identifier)
    assert reconcile(trading, venue, "start").differences == []
    foreign = limit(OrderSide.BID, *RESTING_BID)
    venue.gateway.submit(foreign)

    # When the run reconnects and is reconciled
    rec = reconcile(trading, venue, "reconnect", 1)

    # Then the foreign order is unexplained and trading is HALTED by the reconciliation
    assert [(d["kind"], d["is_explained"], d["order_id"]) for d in rec.differences] == [
        ("unknown_open_order", False, str(foreign.order_id))
    ]
    risk = trading.get_risk_limits()
    assert risk is not None and risk.state is TradingState.HALTED
    assert str(rec.id) in risk.state_reason

    # When an operator acknowledges it through the API
    system = System(load_settings(overrides={"api": {"token": TOKEN}}), trading)
    with TestClient(create_app(system)) as client:
        answer = client.post(
            f"/reconciliations/{rec.id}/acknowledge",
            json={"reason": "a test order of mine"},
            headers={"Authorization": f"Bearer {TOKEN}", "X-Actor": "kim"},
        )

    # Then trading is ACTIVE, resumed by the operator with their reason
    assert answer.status_code == 202, answer.text
    risk = trading.get_risk_limits()
    assert risk is not None and risk.state is TradingState.ACTIVE
    assert "a test order of mine" in risk.state_reason
    assert list(trading.events.get(risk.id))[-1].actor == "api:kim"


def test_an_answer_lost_after_create_is_explained_and_does_not_halt(
    trading: Trading, venue: SandboxVenue
) -> None:
    # Given an order the log holds NEW that reached the sandbox, its answer lost (the
    # sandbox's error_after_create; the process stopped before the log heard of it)
    order_id = trading.place_order(
        PlaceOrder(
            "lost-1",
            "alpha",
            "KRW-BTC",
            "bid",
            "limit",
            Cause(NOW, "t", "p", RUN),
            price_krw=RESTING_BID[1],
            volume_btc=RESTING_BID[0],
        )
    )
    venue.spoil_next_orders("error_after_create")
    venue.gateway.submit(replace(limit(OrderSide.BID, *RESTING_BID), order_id=order_id))
    assert venue.control.pending_faults() == []  # the fault did happen

    # When reconciled
    rec = reconcile(trading, venue, "start")

    # Then the lost answer is explained, and trading stays ACTIVE
    assert [(d["kind"], d["is_explained"]) for d in rec.differences] == [
        ("acknowledgement_missing", True)
    ]
    risk = trading.get_risk_limits()
    assert risk is not None and risk.state is TradingState.ACTIVE


def test_fills_at_the_sandbox_reconcile_exactly_before_and_after_the_log_records_them(
    trading: Trading, venue: SandboxVenue
) -> None:
    # Given a baseline, and a market bid the sandbox fills at the next open
    reconcile(trading, venue, "start")
    ticket = market_bid("100000")
    order_id = trading.place_order(
        PlaceOrder(
            ticket.order_id.hex,
            "alpha",
            "KRW-BTC",
            "bid",
            "market",
            Cause(NOW, "t", "p", RUN),
            amount_krw="100000",
        )
    )
    placed = venue.gateway.submit(replace(ticket, order_id=order_id))
    trading.accept_order(AcceptOrder(order_id, placed.exchange_order_id, Cause(NOW, "t", "a", RUN)))
    venue.advance(3)

    # When reconciled before the log has its trades
    before = reconcile(trading, venue, "reconnect", 3)

    # Then the missing trades (and the end) are explained, and the balances agree with them
    kinds = [(d["kind"], d["is_explained"]) for d in before.differences]
    assert ("fills_missing", True) in kinds and all(explained for _, explained in kinds), kinds
    assert before.figures["unrecorded_base"] > 0

    # When the log records the trades and the run reconciles again
    found = venue.gateway.find(order_id)
    assert found is not None and found.trades
    for trade in found.trades:
        trading.record_fill(
            RecordFill(
                order_id,
                trade.trade_id,
                trade.price_krw,
                trade.qty_btc,
                trade.fee_krw,
                Cause(NOW + timedelta(minutes=3), "t", trade.trade_id, RUN),
            )
        )
    after = reconcile(trading, venue, "reconnect", 4)

    # Then the sandbox's balances are exactly the baseline plus the ledger's fills
    assert [d for d in after.differences if d["kind"] == "balance_mismatch"] == []
    assert after.unexplained == 0, after.differences
    assert after.figures["ledger_base"] == sum(t.qty_btc for t in found.trades)
