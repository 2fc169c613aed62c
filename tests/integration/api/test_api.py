"""Commands write through the aggregates behind a token; queries read the read models."""

from __future__ import annotations

import threading
import time
from decimal import Decimal
from uuid import UUID, uuid4

import pytest

from tests.builders import accept_order
from tests.integration.api.conftest import AUTH, LIMIT_BID, Api


def events_in_log(api: Api) -> int:
    return int(api.system.trading.recorder.max_notification_id() or 0)


def test_a_command_without_the_token_is_refused_and_appends_nothing(api: Api) -> None:
    before = events_in_log(api)
    missing = api.client.post("/capital/allocations", json={"strategy_id": "a", "amount_krw": "1"})
    wrong = api.client.post(
        "/capital/allocations",
        json={"strategy_id": "a", "amount_krw": "1"},
        headers={"Authorization": "Bearer not-the-token-at-all"},
    )
    assert (missing.status_code, missing.json()["error"]["code"]) == (401, "token_missing")
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (401, "token_invalid")
    assert events_in_log(api) == before


def test_an_order_placed_is_read_back_with_its_status_history(api: Api) -> None:
    api.post("/capital/allocations", {"strategy_id": "alpha", "amount_krw": "10000000"})
    placed = api.post("/orders", {**LIMIT_BID, "client_order_id": "web-1"}, **{"X-Actor": "kim"})
    accepted = api.system.trading  # the exchange gateway acknowledges it (issue 7's job)
    accepted.accept_order(accept_order(UUID(placed["id"]), exchange_order_id="x-1"))
    api.post(f"/orders/{placed['id']}/cancel", {"reason": "changed my mind"})
    api.project()

    order = api.client.get(f"/orders/{placed['id']}").json()
    assert (order["client_order_id"], order["status"]) == ("web-1", "CANCELLED")
    assert [h["status"] for h in order["status_history"]] == ["NEW", "OPEN", "CANCELLED"]
    assert order["status_history"][2]["reason"] == "changed my mind"
    assert order["status_history"][0]["actor"] == "api:kim"
    assert order["placed_at_kst"].endswith("+09:00") and order["price_krw"] == "50000000"
    capital = api.client.get("/capital").json()
    assert capital == [
        {
            "account": "main",
            "strategy_id": "alpha",
            "allocated_krw": "10000000",
            "cash_krw": "10000000",
        }
    ]


def test_a_refused_order_names_the_rule_and_appends_nothing(api: Api) -> None:
    api.post("/capital/allocations", {"strategy_id": "alpha", "amount_krw": "10000000"})
    before = events_in_log(api)
    off_tick = api.client.post("/orders", json={**LIMIT_BID, "price_krw": "50000500"}, headers=AUTH)
    assert off_tick.status_code == 422
    assert off_tick.json()["error"]["code"] == "price_off_tick"
    assert "50,000,500" in off_tick.json()["error"]["message"]
    malformed = api.client.post("/orders", json={**LIMIT_BID, "price_krw": 5e7}, headers=AUTH)
    assert malformed.status_code == 400 and malformed.json()["error"]["code"] == "invalid_request"
    assert malformed.json()["error"]["details"][0]["field"] == "body.price_krw"
    new_order = api.post("/orders", {**LIMIT_BID, "client_order_id": "new-1"})
    not_yet = api.client.post(
        f"/orders/{new_order['id']}/cancel", json={"reason": "x"}, headers=AUTH
    )
    assert not_yet.status_code == 422
    assert not_yet.json()["error"]["code"] == "illegal_order_transition"
    unknown = api.client.post(f"/orders/{uuid4()}/cancel", json={"reason": "x"}, headers=AUTH)
    assert unknown.status_code == 404
    twice = {**LIMIT_BID, "client_order_id": "once"}
    api.post("/orders", twice)
    again = api.client.post("/orders", json=twice, headers=AUTH)
    assert again.status_code == 409 and again.json()["error"]["code"] == "duplicate_order"
    assert events_in_log(api) == before + 4  # two orders placed (order + cash reserved each)


def test_lists_page_with_a_cursor_and_refuse_a_forged_one(api: Api) -> None:
    api.post("/capital/allocations", {"strategy_id": "alpha", "amount_krw": "100000000"})
    for n in range(5):
        api.post("/orders", {**LIMIT_BID, "client_order_id": f"p-{n}"})
    api.project()
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = api.client.get("/orders", params=params).json()
        seen += [o["client_order_id"] for o in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"p-{n}" for n in range(4, -1, -1)]
    forged = api.client.get("/orders", params={"cursor": "bm90LWEtY3Vyc29y"})
    assert forged.status_code == 400 and forged.json()["error"]["code"] == "invalid_cursor"


def test_a_query_waits_for_the_read_model_to_reach_the_commands_position(api: Api) -> None:
    api.post("/capital/allocations", {"strategy_id": "alpha", "amount_krw": "10000000"})
    placed = api.post("/orders", {**LIMIT_BID, "client_order_id": "w-1"})
    behind = api.client.get(
        "/orders", params={"min_position": placed["log_position"], "wait_s": 0.2}
    )
    assert behind.status_code == 409 and behind.json()["error"]["code"] == "read_model_behind"
    beyond = api.client.get("/orders", params={"min_position": 10**9})
    assert beyond.status_code == 400 and beyond.json()["error"]["code"] == "position_beyond_log"

    later = threading.Timer(0.3, api.project)
    later.start()
    started = time.monotonic()
    caught_up = api.client.get("/orders", params={"min_position": placed["log_position"]})
    later.join()
    assert caught_up.status_code == 200 and time.monotonic() - started >= 0.25
    assert [o["client_order_id"] for o in caught_up.json()["items"]] == ["w-1"]


def test_risk_changes_and_the_flow_of_events_by_correlation_id(api: Api) -> None:
    api.post("/capital/allocations", {"strategy_id": "alpha", "amount_krw": "10000000"})
    api.client.put(
        "/risk/limits", json={"reason": "policy", "max_order_krw": "5000000"}, headers=AUTH
    )
    api.post("/risk/halt", {"reason": "drill"}, **{"X-Correlation-Id": "drill-1"})
    refused = api.client.post("/orders", json=LIMIT_BID, headers=AUTH)
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "trading_halted"
    anonymous = api.client.post("/risk/resume", json={"reason": "drill over"}, headers=AUTH)
    assert anonymous.status_code == 422, anonymous.text
    assert anonymous.json()["error"]["code"] == "actor_required"
    api.post(
        "/risk/resume",
        {"reason": "drill over"},
        **{"X-Correlation-Id": "drill-1", "X-Actor": "bob"},
    )
    api.project()

    (state,) = api.client.get("/risk").json()
    assert (state["trading_state"], Decimal(state["max_order_krw"])) == ("ACTIVE", 5000000)
    history = api.client.get("/risk/history").json()["items"]
    assert [h["bus_name"] for h in history[:2]] == ["risk.trading.resumed", "risk.trading.halted"]
    flow = api.client.get("/events", params={"correlation_id": "drill-1"}).json()["items"]
    assert [e["bus_name"] for e in flow] == ["risk.trading.halted", "risk.trading.resumed"]
    assert flow[0]["payload"]["reason"] == "drill"
    assert flow[1]["payload"]["actor"] == "api:bob"


def test_the_submit_rate_limit_is_set_read_back_and_refuses_an_operators_order_over_it(
    api: Api,
) -> None:
    # Given a limit of one order a minute, set through the API
    api.post("/capital/allocations", {"strategy_id": "alpha", "amount_krw": "10000000"})
    answer = api.client.put(
        "/risk/limits", json={"reason": "throttle", "max_orders_per_minute": 1}, headers=AUTH
    )
    assert answer.status_code == 202, answer.text
    # When two orders follow within the minute
    api.post("/orders", {**LIMIT_BID, "client_order_id": "rate-1"})
    before = events_in_log(api)
    refused = api.client.post(
        "/orders", json={**LIMIT_BID, "client_order_id": "rate-2"}, headers=AUTH
    )
    # Then the second is refused naming the count, the limit and the window; nothing recorded
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["code"] == "submit_rate_limit"
    assert (
        "placed 1 orders in the last 60 seconds, at its limit of 1 orders per minute"
        in (error["message"])
    )
    assert events_in_log(api) == before
    # And the read model shows the limit, now and in the history
    api.project()
    (state,) = api.client.get("/risk").json()
    assert state["max_orders_per_minute"] == 1 and state["max_order_krw"] is None
    history = api.client.get("/risk/history").json()["items"]
    assert history[0]["bus_name"] == "risk.limits.set"
    assert history[0]["max_orders_per_minute"] == 1


@pytest.mark.parametrize(
    ("value", "status", "code"),
    [
        (-3, 422, "invalid_risk_limit"),
        (0, 422, "invalid_risk_limit"),
        (2.5, 400, "invalid_request"),
        ("5", 400, "invalid_request"),
    ],
)
def test_a_submit_rate_limit_not_a_whole_number_from_1_is_refused_and_records_nothing(
    api: Api, value: object, status: int, code: str
) -> None:
    before = events_in_log(api)

    answer = api.client.put(
        "/risk/limits", json={"reason": "throttle", "max_orders_per_minute": value}, headers=AUTH
    )

    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert error["code"] == code
    assert (
        "max_orders_per_minute" in error["message"] or "max orders per minute" in (error["message"])
    )
    if status == 422:
        assert (
            f"max orders per minute {value!r} must be a whole number of orders"
            in (error["message"])
        )
    assert events_in_log(api) == before


@pytest.mark.parametrize(
    "path",
    [
        "/orders/not-a-uuid",
        "/candles?interval=5m",
        "/candles?from=2025-01-01T00:00:00",
        "/orders?limit=0",
        "/events",
    ],
)
def test_malformed_queries_get_the_one_error_body(api: Api, path: str) -> None:
    answer = api.client.get(path)
    assert answer.status_code == 400, answer.text
    assert set(answer.json()) == {"error"} and answer.json()["error"]["message"]
