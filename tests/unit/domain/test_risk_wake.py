"""The risk monitor on a tape: the scan never passes a close where a limit crosses, and the
closes it skips are passed to the watch exactly as marking them one by one would."""

from __future__ import annotations

import random
from copy import deepcopy
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from domain.candles.candle import Candle
from domain.risk.limits import Limits
from domain.risk.liquidation import is_flat, liquidation_volumes
from domain.risk.monitor import EquityWatch, assess, marked_equity
from domain.risk.trading_state import TradingState
from domain.risk.wake import catch_up, next_crossing
from tests.unit.commands.backtest.runs import tape_of

START = datetime(2023, 1, 1, 22, 0, tzinfo=UTC)  # two hours before a session starts
HOLDINGS = {"grid": (D("5000000.5"), D("0.1")), "turtle": (D("3000000"), D("0.05"))}


def walk(seed: int, n: int = 600) -> list[Candle]:
    rng = random.Random(seed)  # fixed seed (style S5.7)
    price, candles = 50_000_000, []
    for i in range(n):
        step = rng.choice((-3, -2, -1, 0, 1, 2, 3)) * 20_000
        close = price + step
        candles.append(
            Candle(
                START + timedelta(minutes=i),
                D(price),
                D(max(price, close)),
                D(min(price, close)),
                D(close),
                D(1),
            )
        )
        price = close
    return candles


def mark(watch: EquityWatch, candle: Candle, limits: Limits) -> list[object]:
    exposure = {name: qty * candle.close for name, (_, qty) in HOLDINGS.items()}
    equity = marked_equity(HOLDINGS.values(), candle.close)
    marked = watch.mark(candle.open_time, equity, exposure, limits.max_exposure_krw)
    return list(assess(limits, TradingState.ACTIVE, marked))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_catch_up_leaves_the_watch_as_marking_every_close_would(seed: int) -> None:
    # Given closes across a session boundary, the first one marked by both watches
    candles = walk(seed)
    tape = tape_of(candles)
    limits = Limits()
    one_by_one, skipping = EquityWatch(), EquityWatch()
    mark(one_by_one, candles[0], limits)
    mark(skipping, candles[0], limits)
    # When one watch marks every close and the other catches up over all but the last
    for candle in candles[1:-1]:
        mark(one_by_one, candle, limits)
    catch_up(skipping, tape, 1, len(candles) - 1, HOLDINGS)
    # Then they agree exactly, and so do their marks of the last close
    assert skipping == one_by_one
    assert mark(skipping, candles[-1], limits) == mark(one_by_one, candles[-1], limits)


LIMITS = [
    Limits(daily_loss_krw=D(150_000)),
    Limits(max_drawdown=D("0.004")),
    Limits(max_exposure_krw=D(5_000_000)),
    Limits(daily_loss_krw=D(400_000), max_drawdown=D("0.01"), max_exposure_krw=D(2_520_000)),
]


@pytest.mark.parametrize("seed", [4, 5, 6, 7])
@pytest.mark.parametrize("limits", LIMITS)
def test_the_scan_stops_at_or_before_the_first_close_where_the_exact_rules_find_a_breach(
    seed: int, limits: Limits
) -> None:
    # Given a constant book and a walk of closes, the first close marked
    candles = walk(seed)
    tape = tape_of(candles)
    watch = EquityWatch()
    mark(watch, candles[0], limits)
    floats = {name: (float(c), float(q)) for name, (c, q) in HOLDINGS.items()}
    # When the scan looks ahead from that close
    found = next_crossing(0, len(candles), tape, floats, watch, limits, TradingState.ACTIVE)
    # Then marking close by close finds no breach and no exposure change before it
    exact = deepcopy(watch)
    first = len(candles)
    for index in range(1, len(candles)):
        above = set(exact.above_exposure)
        if mark(exact, candles[index], limits) or exact.above_exposure != above:
            first = index
            break
    assert found <= first
    # And it is not blind: where the exact rules act, the scan stops within a few closes
    assert first - found <= 2 or first == len(candles)


def test_a_halted_account_or_one_without_btc_has_no_crossing_ahead() -> None:
    candles = walk(8)
    tape = tape_of(candles)
    watch = EquityWatch()
    mark(watch, candles[0], LIMITS[3])
    held = {name: (float(c), float(q)) for name, (c, q) in HOLDINGS.items()}
    flat = {name: (float(c), 0.0) for name, (c, _) in HOLDINGS.items()}
    n = len(candles)
    assert next_crossing(0, n, tape, held, watch, LIMITS[3], TradingState.HALTED) == n
    assert next_crossing(0, n, tape, flat, watch, LIMITS[3], TradingState.ACTIVE) == n


def test_a_position_is_sold_in_as_few_asks_as_fit_the_per_order_limit() -> None:
    # 0.30000001 BTC at 30,000,000 KRW = 9,000,000.3 KRW under a 4,000,000 KRW limit: 3 asks
    volumes = liquidation_volumes(D("0.30000001"), D(30_000_000), D(4_000_000))
    assert volumes == [D("0.10000001"), D("0.10000000"), D("0.10000000")]
    assert sum(volumes) == D("0.30000001")
    assert all(v * 30_000_000 <= 4_000_000 for v in volumes)
    assert liquidation_volumes(D("0.3"), D(30_000_000), None) == [D("0.3")]


def test_dust_below_the_minimum_total_cannot_be_sold_and_counts_as_flat() -> None:
    assert liquidation_volumes(D("0.0001"), D(30_000_000), None) == []  # 3,000 KRW
    assert is_flat(D("0.0001"), D(30_000_000), None)
    assert not is_flat(D("0.001"), D(30_000_000), None)
    # A per-order limit below the minimum total: no order could sell anything
    assert is_flat(D("1"), D(30_000_000), D(4_999))
