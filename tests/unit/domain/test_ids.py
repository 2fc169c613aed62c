"""Identifiers a replay must reproduce: uuid5 of their cause over one namespace (S3.8)."""

from __future__ import annotations

from uuid import NAMESPACE_URL, uuid5

from domain.ids import (
    LEDGER_NAMESPACE,
    derive_id,
    order_id,
    portfolio_id,
    position_id,
    risk_limits_id,
)


def test_ledger_namespace_is_the_uuid5_of_the_project_urn() -> None:
    assert uuid5(NAMESPACE_URL, "urn:upbit-ledger") == LEDGER_NAMESPACE


def test_order_id_is_uuid5_of_kind_and_client_order_id_in_the_ledger_namespace() -> None:
    derived = order_id("vb-2025-01-06-1")

    assert derived == uuid5(LEDGER_NAMESPACE, "order:vb-2025-01-06-1")
    assert derived.version == 5


def test_order_id_of_same_client_order_id_is_the_same_every_time() -> None:
    assert order_id("client-1") == order_id("client-1")


def test_order_id_of_different_client_order_ids_differ() -> None:
    assert order_id("client-1") != order_id("client-2")


def test_position_id_depends_on_account_strategy_and_market() -> None:
    ids = {
        position_id("main", "alpha", "KRW-BTC"),
        position_id("main", "beta", "KRW-BTC"),
        position_id("main", "alpha", "KRW-ETH"),
        position_id("other", "alpha", "KRW-BTC"),
    }

    assert len(ids) == 4
    assert position_id("main", "alpha", "KRW-BTC") == derive_id(
        "position", "main", "alpha", "KRW-BTC"
    )


def test_ids_of_different_kinds_with_the_same_cause_differ() -> None:
    ids = {order_id("main"), portfolio_id("main"), risk_limits_id("main"), derive_id("x", "main")}

    assert len(ids) == 4


def test_portfolio_and_risk_ids_are_per_account() -> None:
    assert portfolio_id("main") == uuid5(LEDGER_NAMESPACE, "portfolio:main")
    assert risk_limits_id("main") == uuid5(LEDGER_NAMESPACE, "risk-limits:main")
    assert portfolio_id("main") != portfolio_id("paper")
