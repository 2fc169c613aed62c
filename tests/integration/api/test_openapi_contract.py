"""schemathesis against the OpenAPI schema: no 5xx, every answer as documented, the one error
body on every 4xx; commands without the token are refused and append nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.integration.api.conftest import AUTH, Api

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
SETTINGS = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def funded(api: Api) -> Iterator[Api]:
    """An API whose strategy `alpha` has capital, with its read models kept up to date by a
    background loop (as the projectors would), so `min_position` waits end soon."""
    api.post("/capital/allocations", {"strategy_id": "alpha", "amount_krw": "100000000"})
    stop = threading.Event()

    def follow() -> None:
        while not stop.wait(0.05):
            api.project()

    follower = threading.Thread(target=follow, daemon=True)
    follower.start()
    yield api
    stop.set()
    follower.join(10)


def operations(api: Api, tag: str | None = None) -> list[Any]:
    loaded = schemathesis.openapi.from_asgi("/openapi.json", api.client.app)
    found = [result.ok() for result in loaded.get_all_operations()]
    return [op for op in found if tag is None or tag in (op.tags or [])]


def test_every_operation_answers_as_documented(funded: Api) -> None:
    checked = []
    for operation in operations(funded):

        @given(case=operation.as_strategy())
        @SETTINGS
        def run(case: Any) -> None:
            response = case.call_and_validate(headers=AUTH, checks=CHECKS)
            if response.status_code >= 400:
                body = response.json()
                assert set(body) == {"error"}, body
                assert set(body["error"]) == {"code", "message", "details"}, body
                assert body["error"]["message"]

        run()
        checked.append(operation.label)
    assert len(checked) >= 15, checked  # every route of the API was exercised


def test_commands_without_the_token_are_refused_and_append_nothing(funded: Api) -> None:
    commands = operations(funded, "commands")
    assert len(commands) == 6  # orders, cancel, limits, trading state, capital, acknowledge
    for operation in commands:

        @given(case=operation.as_strategy())
        @SETTINGS
        def run(case: Any) -> None:
            before = funded.system.trading.recorder.max_notification_id()
            response = case.call(headers={"Authorization": ""})
            assert response.status_code in (400, 401), response.text
            assert funded.system.trading.recorder.max_notification_id() == before

        run()
