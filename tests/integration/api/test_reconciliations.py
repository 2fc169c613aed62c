"""Reconciliations over the API: listed with their differences; acknowledged by an operator."""

from __future__ import annotations

from uuid import UUID, uuid5

from commands.processes.reconciliation import Reconciler
from domain.risk.trading_state import TradingState
from tests.builders import cause
from tests.fakes.exchange import FakeExchange
from tests.integration.api.conftest import AUTH, Api
from tests.unit.commands.processes.runs import MODEL
from tests.unit.commands.test_reconciliation import CAPITAL, RUN, open_exchange_run, ticket


def halted_by_a_foreign_order(api: Api) -> str:
    trading = api.system.trading
    open_exchange_run(trading)  # type: ignore[arg-type]
    exchange = FakeExchange(MODEL, cause().occurred_at)
    exchange.fund("KRW", CAPITAL)
    exchange.submit(ticket(uuid5(UUID(int=7), "placed by hand")))
    rec = Reconciler(trading, exchange).reconcile(RUN, "start", cause(5, actor="reconciliation"))
    return str(rec.id)


def head(api: Api) -> int:
    return int(api.system.trading.recorder.max_notification_id() or 0)


def test_a_halting_reconciliation_is_listed_and_its_acknowledgement_resumes_trading(
    api: Api,
) -> None:
    # Given trading halted by a reconciliation that found a foreign open order
    rec_id = halted_by_a_foreign_order(api)
    api.project()

    # When an operator lists the reconciliations
    listed = api.client.get("/reconciliations", params={"run_id": RUN}).json()["items"]

    # Then it shows its unexplained difference and that it halted trading
    (item,) = listed
    assert item["reconciliation_id"] == rec_id and item["unexplained"] == 1 and item["is_halting"]
    assert [d["kind"] for d in item["difference_list"]] == ["unknown_open_order"]
    assert item["krw_free"] == str(CAPITAL) and item["trigger"] == "start"

    # When the operator acknowledges it with a reason
    answer = api.post(
        f"/reconciliations/{rec_id}/acknowledge", {"reason": "my own order"}, **{"X-Actor": "kim"}
    )

    # Then trading is ACTIVE again by the operator, and the listing says so
    risk = api.system.trading.get_risk_limits()
    assert risk is not None and risk.state is TradingState.ACTIVE
    assert "my own order" in risk.state_reason
    assert list(api.system.trading.events.get(risk.id))[-1].actor == "api:kim"
    api.project()
    (item,) = api.client.get(
        "/reconciliations", params={"min_position": answer["log_position"]}
    ).json()["items"]
    assert item["is_acknowledged"] and item["acknowledged_by"] == "api:kim"
    assert item["has_resumed"] is True


def test_a_bad_acknowledgement_is_refused_clearly_and_records_nothing(api: Api) -> None:
    # Given a halting reconciliation
    rec_id = halted_by_a_foreign_order(api)
    before = head(api)
    path = f"/reconciliations/{rec_id}/acknowledge"

    # When acknowledgements come without a token, reason or valid id, or for nothing known
    no_token = api.client.post(path, json={"reason": "x"})
    no_reason = api.client.post(path, json={}, headers=AUTH)
    blank = api.client.post(path, json={"reason": "   "}, headers=AUTH)
    bad_id = api.client.post(
        "/reconciliations/not-a-uuid/acknowledge", json={"reason": "x"}, headers=AUTH
    )
    unknown = api.client.post(
        f"/reconciliations/{uuid5(UUID(int=1), 'none')}/acknowledge",
        json={"reason": "x"},
        headers=AUTH,
    )
    bad_actor = api.client.post(
        path, json={"reason": "x"}, headers={**AUTH, "X-Actor": "kim with spaces"}
    )

    # Then each is refused with a clear answer, and nothing is recorded: trading stays HALTED
    assert no_token.status_code == 401
    assert no_reason.status_code == 400 and "reason" in no_reason.json()["error"]["message"]
    assert blank.status_code == 422 and blank.json()["error"]["code"] == "missing_text"
    assert bad_id.status_code == 400 and "reconciliation_id" in bad_id.json()["error"]["message"]
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "unknown_reconciliation"
    assert bad_actor.status_code == 400 and "X-Actor" in bad_actor.json()["error"]["message"]
    assert head(api) == before
    risk = api.system.trading.get_risk_limits()
    assert risk is not None and risk.state is TradingState.HALTED

    # And acknowledging twice is refused the second time
    api.post(path, {"reason": "checked"})
    twice = api.client.post(path, json={"reason": "again"}, headers=AUTH)
    assert twice.status_code == 422
    assert twice.json()["error"]["code"] == "reconciliation_acknowledgement"
    assert "already acknowledged" in twice.json()["error"]["message"]
