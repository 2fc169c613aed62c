"""Cursors are opaque, signed and bound to their listing; no database text reaches a client."""

from __future__ import annotations

import base64
import json

import pytest

from adapters.postgres.read_model_queries import PostgresReadModelQueries
from api.cursor_key import cursor_key
from projections.queries import InvalidCursorError
from tests.integration.api.conftest import LIMIT_BID, Api
from tests.integration.conftest import PgTarget

DATABASE_WORDS = ("CONTEXT", "portal", "invalid input syntax", "psycopg", "SELECT", "DETAIL")


def unsigned(values: list[str]) -> str:
    """A cursor as this API used to hand them out: base64 JSON of the last row's key."""
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def two_orders(api: Api) -> str:
    """Place two orders; return the cursor of the first page of one."""
    api.post("/capital/allocations", {"strategy_id": "alpha", "amount_krw": "100000000"})
    for n in range(2):
        api.post("/orders", {**LIMIT_BID, "client_order_id": f"c-{n}"})
    api.project()
    cursor = api.client.get("/orders", params={"limit": 1}).json()["next_cursor"]
    assert cursor is not None
    return str(cursor)


def test_a_forged_cursor_is_refused_as_invalid_cursor_without_database_text(api: Api) -> None:
    for forged in (
        unsigned(["not-a-time", "not-a-uuid"]),
        unsigned(["2026-01-01T00:00:00+00:00", "00000000-0000-0000-0000-000000000000"]),
    ):
        answer = api.client.get("/orders", params={"cursor": forged})
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"]["code"] == "invalid_cursor"
        assert not any(word in answer.text for word in DATABASE_WORDS), answer.text


def test_a_cursor_of_one_listing_is_refused_by_another(api: Api) -> None:
    cursor = two_orders(api)
    for path in ("/signals", "/pnl/daily", "/risk/history"):
        answer = api.client.get(path, params={"cursor": cursor})
        assert answer.status_code == 400, f"{path}: {answer.text}"
        assert answer.json()["error"]["code"] == "invalid_cursor"
    # nor by the same listing under other filters
    answer = api.client.get("/orders", params={"cursor": cursor, "status": "FILLED"})
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "invalid_cursor"


def test_a_cursor_is_accepted_by_another_replica_with_the_same_key_only(
    api: Api, pg_schema: PgTarget
) -> None:
    cursor = two_orders(api)
    key = cursor_key(api.system.settings)  # what every replica with these settings derives
    replica = PostgresReadModelQueries(pg_schema.conninfo, pg_schema.schema, cursor_key=key)
    stranger = PostgresReadModelQueries(pg_schema.conninfo, pg_schema.schema, cursor_key=b"k" * 32)
    try:
        page = replica.orders(status=None, strategy_id=None, market=None, limit=1, cursor=cursor)
        assert [row["client_order_id"] for row in page.rows] == ["c-0"]
        with pytest.raises(InvalidCursorError):
            stranger.orders(status=None, strategy_id=None, market=None, limit=1, cursor=cursor)
    finally:
        replica.close()
        stranger.close()
