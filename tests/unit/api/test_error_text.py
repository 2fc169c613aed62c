"""No database error text reaches a client: not through /health, not through a 500."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi.testclient import TestClient

from api.bootstrap import System
from api.http.app import create_app
from api.settings import load_settings
from commands.run_engine.run_model import IN_MEMORY_ENV
from commands.trading import Trading

DATABASE_TEXT = 'connection to server at "10.0.0.5", port 5432 failed: password authentication'


class FailingRecorder:
    def max_notification_id(self) -> int:
        raise ConnectionError(DATABASE_TEXT)


class FailingQueries:
    def positions(self, *, strategy_id: str | None) -> Sequence[Any]:
        raise RuntimeError(f"{DATABASE_TEXT}\nCONTEXT: unnamed portal parameter $1")


def test_a_failing_event_log_is_reported_degraded_without_its_error_text() -> None:
    trading = Trading(IN_MEMORY_ENV)
    trading.recorder = FailingRecorder()  # type: ignore[assignment]
    system = System(settings=load_settings(), trading=trading)
    with TestClient(create_app(system)) as client:
        answer = client.get("/health")
    assert answer.status_code == 200 and answer.json()["status"] == "degraded"
    assert "10.0.0.5" not in answer.text and "password" not in answer.text


def test_an_unexpected_error_answers_500_with_a_reference_and_not_its_text() -> None:
    system = System(
        settings=load_settings(),
        trading=Trading(IN_MEMORY_ENV),
        queries=FailingQueries(),  # type: ignore[arg-type]
    )
    with TestClient(create_app(system), raise_server_exceptions=False) as client:
        answer = client.get("/positions")
    assert answer.status_code == 500, answer.text
    error = answer.json()["error"]
    assert error["code"] == "internal_error" and "error:" in error["message"]
    assert "10.0.0.5" not in answer.text and "CONTEXT" not in answer.text
