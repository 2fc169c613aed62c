"""The submit-rate limit in a backtest: a close's orders share its time, so the limit is a budget
per close; orders over it are denied (placed, then rejected by risk, coded `submit_rate_limit`)
on both engine paths, and a limit never reached decides nothing differently."""

from __future__ import annotations

import json
from collections import Counter

from domain.risk.limits import Limits
from tests.unit.commands.backtest.runs import MARCH, events, run

STRATEGIES = ["volatility_breakout", "grid", "turtle"]
LIMIT = Limits(max_orders_per_minute=3)


def test_orders_over_the_rate_at_a_close_are_denied_with_the_rules_code_on_both_paths() -> None:
    # Given the March fixture, whose grid places its 8 line buys at the first close
    fast, fast_report = run(MARCH, STRATEGIES, fast=True, limits=LIMIT)
    plain, plain_report = run(MARCH, STRATEGIES, fast=False, limits=LIMIT)
    # Then both paths append the same events and report the same
    appended = events(fast)
    assert appended == events(plain)
    assert fast_report == plain_report
    # And orders over 3 at one close were denied by risk with the rule's code
    rejected = [json.loads(body) for topic, body, _ in appended if topic == "order.rejected"]
    by_rate = [r for r in rejected if r["reason"].startswith("submit_rate_limit: ")]
    assert by_rate and all(r["rejected_by"] == "risk" for r in by_rate)
    assert "at its limit of 3 orders per minute" in by_rate[0]["reason"]
    assert fast_report["strategies"]["grid"]["denials_by_code"]["submit_rate_limit"] > 0
    assert fast_report["risk"]["limits"]["max_orders_per_minute"] == "3"
    # And no close placed more than 3 orders that the ledger accepted
    denied = {r["originator_id"] for r in rejected if r["rejected_by"] == "risk"}
    placed_at = Counter(
        at
        for topic, body, at in appended
        if topic == "order.placed" and json.loads(body)["originator_id"] not in denied
    )
    assert max(placed_at.values()) == 3


def test_a_rate_never_reached_decides_nothing_differently_from_no_limit() -> None:
    without, _ = run(MARCH, STRATEGIES)
    with_limit, report = run(MARCH, STRATEGIES, limits=Limits(max_orders_per_minute=100))

    assert with_limit.replay_digest() == without.replay_digest()
    assert all(s["denials"] == 0 for s in report["strategies"].values())
