"""GET /audit/export: the audit bundle streamed for a range, with the command token."""

from __future__ import annotations

import json
import tarfile
from datetime import UTC, datetime, timedelta

from adapters.audit_bundle import verify_bundle as verifier
from commands.messages import AllocateCapital
from domain.events import Cause
from tests.integration.api.conftest import AUTH

BASE = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)


def allocate(api, strategy: str, day: int) -> None:  # type: ignore[no-untyped-def]
    at = BASE + timedelta(days=day)
    api.system.trading.allocate_capital(
        AllocateCapital(strategy, "1000000", Cause(at, "test", f"c-{day}", f"c-{day}"))
    )


def test_the_export_streams_a_bundle_that_verifies_and_names_its_head(api, tmp_path) -> None:
    # Given allocations on three trading days
    for day, strategy in enumerate(("vb", "grid", "turtle")):
        allocate(api, strategy, day)

    # When the second day is exported through the API
    answer = api.client.get(
        "/audit/export", params={"from": "2026-03-03", "to": "2026-03-03"}, headers=AUTH
    )

    # Then a .tar.gz arrives that verifies, holding that day's events in full
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/gzip"
    bundle = tmp_path / "bundle.tar.gz"
    bundle.write_bytes(answer.content)
    (report,) = verifier.verify_all([str(bundle)], [])
    assert report.intact, report.findings[:1]
    # and whose head, in the header, is its seal: the log's newest event, after every other
    status = api.system.trading.recorder.chain_status()
    assert answer.headers["x-audit-head"] == f"{status.position}:{status.link}"
    assert report.head == {"position": status.position, "count": status.count, "link": status.link}
    assert report.chain_rows == status.count - 1
    with tarfile.open(bundle) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith("/events.jsonl"))
        handle = tar.extractfile(member)
        assert handle is not None
        events = [json.loads(line) for line in handle.read().splitlines()]
    assert {e.get("strategy_id") for e in events} == {"grid"}
    assert all(e["occurred_at"].startswith("2026-03-03") for e in events)


def test_the_export_needs_the_command_token(api) -> None:
    answer = api.client.get("/audit/export")

    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "token_missing"


def test_a_malformed_bound_is_refused_naming_it(api) -> None:
    answer = api.client.get("/audit/export", params={"from": "March 3rd"}, headers=AUTH)

    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == "invalid_export_selection"
    assert "'March 3rd'" in error["message"] and "ISO 8601" in error["message"]


def test_a_reversed_range_is_refused(api) -> None:
    answer = api.client.get("/audit/export", params={"from": "9", "to": "3"}, headers=AUTH)

    assert answer.status_code == 422
    assert "start (position 9) is after its end (position 3)" in answer.json()["error"]["message"]


def test_a_range_that_holds_no_event_is_refused_as_the_docs_say(api) -> None:  # type: ignore[no-untyped-def]
    allocate(api, "alpha", 0)
    for params in (
        {"from": "999999"},  # past the log's head
        {"from": "2020-01-01", "to": "2020-01-02"},  # days before the first event
    ):
        answer = api.client.get("/audit/export", params=params, headers=AUTH)

        assert answer.status_code == 422, f"{params}: {answer.status_code}"
        error = answer.json()["error"]
        assert error["code"] == "invalid_export_selection"
        assert "holds no event" in error["message"]
