"""A run killed at kill points spread over a whole run resumes without a trace (issue 18).

`tests/chaos/kill_points.py` kills the run just before and after every save of the log and
every request to the exchange. Here 60 of them, evenly spread over the run's 900-odd (`make
chaos` tries 10,000 random ones): after each kill a new process resumes the run, and the run
ends with no order sent twice, no orphan, and the uninterrupted run's decisions.
"""

from __future__ import annotations

from functools import cache

import pytest

from tests.chaos.kill_points import Outcome, kill_point_candles, run_scenario

SPREAD = 60
GROUPS = 6


@cache
def uninterrupted() -> Outcome:
    return run_scenario(kill_point_candles(), None)


def spread_points(group: int) -> list[int]:
    total = uninterrupted().kill_points
    points = [1 + (total - 1) * k // (SPREAD - 1) for k in range(SPREAD)]
    return points[group::GROUPS]


def test_the_uninterrupted_run_trades_sends_each_order_once_and_leaves_no_orphan() -> None:
    base = uninterrupted()
    assert base.kill_points > 500 and base.decisions > 100
    assert base.duplicates == [] and base.orphans == []


@pytest.mark.parametrize("group", range(GROUPS))
def test_a_run_killed_at_any_point_ends_as_the_uninterrupted_one(group: int) -> None:
    candles, base = kill_point_candles(), uninterrupted()
    for kill_at in spread_points(group):
        outcome = run_scenario(candles, kill_at)
        assert outcome.restarts == 1, kill_at
        assert outcome.duplicates == [], kill_at
        assert outcome.orphans == [], kill_at
        assert outcome.decisions_hash == base.decisions_hash, kill_at
