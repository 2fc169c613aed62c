"""No lookahead: cutting the candles at any point never changes a decision made before it."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from adapters.market_data.candles_csv import read_tape
from tests.unit.commands.backtest.runs import MARCH, events, run

CUTS = 6


@pytest.mark.parametrize("name", ["volatility_breakout", "grid", "turtle"])
def test_strategy_decisions_before_a_cut_do_not_depend_on_candles_after_it(name: str) -> None:
    # Given the full run over the fixture
    full, _ = run(MARCH, [name])
    full_events = events(full)
    tape = read_tape(MARCH)
    rng = random.Random(20230309)  # fixed seed (style S5.7)
    for _ in range(CUTS):
        # When the series is cut at a random minute
        cut_index = rng.randrange(60, len(tape) - 60)
        cut = tape.open_time(cut_index)
        shortened, _ = run(MARCH, [name], end=cut)
        # Then every event before the cut is exactly the same, in the same order
        before = [e for e in full_events if e[2] < cut + timedelta(minutes=1)]
        cut_events = [e for e in events(shortened) if e[2] < cut + timedelta(minutes=1)]
        assert cut_events == before, f"{name} differs before the cut at {cut.isoformat()}"
