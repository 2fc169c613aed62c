"""The HTTP API refuses what it cannot read as sent: unknown fields, unknown query parameters,
bodies over the size limit (without reading them first). In memory: no database needed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.bootstrap import System
from api.http.app import create_app
from api.http.errors import MAX_BODY_BYTES
from api.settings import load_settings
from commands.run_engine.run_model import IN_MEMORY_ENV
from commands.trading import Trading
from tests.unit.api.in_memory_api import AUTH, ORDER, TOKEN, in_memory_system


@pytest.fixture
def system() -> Iterator[System]:
    system = in_memory_system()
    yield system
    system.close()


@pytest.fixture
def client(system: System) -> Iterator[TestClient]:
    with TestClient(create_app(system)) as client:
        yield client


def events_in_log(system: System) -> int:
    return int(system.trading.recorder.max_notification_id() or 0)


def test_an_unknown_field_of_an_order_is_refused_naming_it_and_places_nothing(
    client: TestClient, system: System
) -> None:
    # Given a strategy with capital
    answer = client.post(
        "/capital/allocations", json={"strategy_id": "alpha", "amount_krw": "1000000"}, headers=AUTH
    )
    assert answer.status_code == 201, answer.text
    before = events_in_log(system)
    # When the caller misspells client_order_id
    answer = client.post("/orders", json={**ORDER, "clientOrderId": "one"}, headers=AUTH)
    # Then the order is refused, naming the field, and nothing is recorded
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] == "unknown_field"
    assert "clientOrderId" in error["message"]
    assert events_in_log(system) == before


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/capital/allocations", {"strategy_id": "a", "amount_krw": "1", "amountKrw": "1"}),
        ("/risk/halt", {"reason": "r", "note": "x"}),
        ("/risk/limits", {"reason": "r", "max_order": "1"}),
    ],
)
def test_every_command_body_refuses_an_unknown_field(
    client: TestClient, path: str, body: dict[str, Any]
) -> None:
    answer = client.request(
        "PUT" if path == "/risk/limits" else "POST", path, json=body, headers=AUTH
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["code"] == "unknown_field"


def test_an_unknown_query_parameter_is_refused_naming_it(client: TestClient) -> None:
    answer = client.get("/health", params={"verbose": "1"})
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["code"] == "unknown_parameter" and "verbose" in error["message"]


def test_a_declared_query_parameter_is_still_accepted(client: TestClient) -> None:
    # /orders without read models answers 503, not 400: the parameters themselves passed
    answer = client.get("/orders", params={"limit": "5", "status": "OPEN"})
    assert answer.status_code == 503, answer.text


def test_a_body_over_the_limit_is_refused_with_413_and_the_error_body(
    client: TestClient, system: System
) -> None:
    before = events_in_log(system)
    padding = "x" * (MAX_BODY_BYTES + 1)
    answer = client.post("/orders", json={**ORDER, "client_order_id": padding}, headers=AUTH)
    assert answer.status_code == 413, answer.text
    error = answer.json()["error"]
    assert error["code"] == "request_body_too_large" and f"{MAX_BODY_BYTES:,}" in error["message"]
    assert events_in_log(system) == before


def call(system: System, headers: list[tuple[bytes, bytes]], chunks: int) -> tuple[int, int]:
    """Send POST /orders straight to the ASGI app with `chunks` chunks of 1 MiB offered;
    return the status and how many chunks the app asked for."""
    app = create_app(system)
    asked = 0
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal asked
        asked += 1
        more = asked < chunks
        return {"type": "http.request", "body": b"x" * (1 << 20), "more_body": more}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/orders",
        "raw_path": b"/orders",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), *headers],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 8000),
    }
    asyncio.run(app(scope, receive, send))
    return status, asked


def test_a_20_mb_body_with_its_length_declared_is_refused_before_any_of_it_is_read(
    system: System,
) -> None:
    auth = (b"authorization", f"Bearer {TOKEN}".encode())
    status, asked = call(system, [auth, (b"content-length", str(20 << 20).encode())], 20)
    assert status == 413
    assert asked == 0


def test_a_streamed_20_mb_body_is_refused_after_reading_no_more_than_the_limit(
    system: System,
) -> None:
    auth = (b"authorization", f"Bearer {TOKEN}".encode())
    status, asked = call(system, [auth, (b"transfer-encoding", b"chunked")], 20)
    assert status == 413
    assert asked == 1  # the first 1 MiB chunk is over the limit: nothing more is read


def test_the_openapi_schema_forbids_unknown_fields_and_documents_413() -> None:
    settings = load_settings(overrides={"api": {"token": TOKEN}})
    schema = create_app(System(settings=settings, trading=Trading(IN_MEMORY_ENV))).openapi()
    bodies = [
        schema["components"]["schemas"][name]
        for name in (
            "PlaceOrderRequest",
            "CancelRequest",
            "RiskLimitsRequest",
            "StateChangeRequest",
            "AllocationRequest",
            "AcknowledgementRequest",
        )
    ]
    assert all(body.get("additionalProperties") is False for body in bodies)
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if "requestBody" in operation:
                assert "413" in operation["responses"], f"{method} {path}"
