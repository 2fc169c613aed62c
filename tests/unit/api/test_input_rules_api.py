"""The API refuses questionable input with the rule and the message the CLI gets (one
validation, in the domain), and records nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from api.bootstrap import System
from api.http.app import create_app
from domain.errors import DomainError
from domain.events import require_id
from domain.market import parse_market
from domain.money import to_decimal, whole_krw
from domain.orders.terms import parse_side
from tests.unit.api.in_memory_api import AUTH, ORDER, in_memory_system


@pytest.fixture
def api() -> Iterator[tuple[TestClient, System]]:
    system = in_memory_system()
    with TestClient(create_app(system)) as client:
        funded = {"strategy_id": "alpha", "amount_krw": "100000000"}
        assert client.post("/capital/allocations", json=funded, headers=AUTH).status_code == 201
        yield client, system
    system.close()


def message_of(rule: Callable[[], object]) -> str:
    with pytest.raises(DomainError) as refused:
        rule()
    return str(refused.value)


@pytest.mark.parametrize(
    ("path", "body", "rule"),
    [
        ("/orders", {**ORDER, "price_krw": "2e7"}, lambda: to_decimal("2e7", "limit price")),
        ("/orders", {**ORDER, "side": "BUY"}, lambda: parse_side("BUY")),
        (
            "/capital/allocations",
            {"strategy_id": "alpha", "amount_krw": "0.0000000000000001"},
            lambda: whole_krw("0.0000000000000001", "capital"),
        ),
        (
            "/orders",
            {
                **ORDER,
                "order_type": "market",
                "price_krw": None,
                "volume_btc": None,
                "amount_krw": "10000.5",
            },
            lambda: whole_krw("10000.5", "amount"),
        ),
        (
            "/capital/allocations",
            {"strategy_id": "my strategy", "amount_krw": "10000"},
            lambda: require_id("my strategy", "strategy id"),
        ),
        (
            "/orders",
            {**ORDER, "client_order_id": "order #1"},
            lambda: require_id("order #1", "client order id"),
        ),
        ("/orders", {**ORDER, "market": "BTC"}, lambda: parse_market("BTC")),
    ],
)
def test_questionable_input_is_refused_with_the_clis_message_and_records_nothing(
    api: tuple[TestClient, System], path: str, body: dict[str, object], rule: Callable[[], object]
) -> None:
    client, system = api
    before = system.trading.recorder.max_notification_id()
    answer = client.post(path, json=body, headers=AUTH)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["message"] == message_of(rule)
    assert system.trading.recorder.max_notification_id() == before
