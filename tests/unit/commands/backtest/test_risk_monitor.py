"""The risk monitor in a backtest, in event terms, on synthetic candles: a breach acts on the
candle that crossed the limit, in the plain and the fast path alike."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from typing import Any

from commands.run_engine.engine import RunEngine
from domain.candles.candle import Candle
from domain.candles.gaps import fill_gaps
from domain.money import floor8
from domain.risk.limits import Limits
from domain.risk.trading_state import TradingState
from tests.unit.commands.backtest.runs import events, run_both

M = 1_000_000
DAY1 = datetime(2023, 1, 1, 23, 50, tzinfo=UTC)
DAY2 = datetime(2023, 1, 2, tzinfo=UTC)
DAY3 = datetime(2023, 1, 3, tzinfo=UTC)
FEE = D("0.0005")
CAPITAL = D(10 * M)
# Grid lines 44M, 48M, 52M: at a close of 50.4M it rests BUYs at 44M and 48M, which the
# series below never reaches.
GRID = {"grid": {"lower": "44000000", "upper": "52000000", "levels": "3"}}


def candle(at: datetime, o: int, h: int, lo: int, c: int) -> Candle:
    return Candle(at, D(o), D(h), D(lo), D(c), D(2), D(2) * c)


def breakout_then(closes: list[int]) -> list[Candle]:
    """Day 1 (range 2M), a breakout at day 2's second minute (target 51M; the market BID fills
    at 50.5M, the third minute's open), then minutes from that open through `closes`; the rest
    of day 2 is flat, and day 3 opens flat."""
    day1 = [candle(DAY1 + timedelta(minutes=i), 50 * M, 51 * M, 49 * M, 50 * M) for i in range(10)]
    day2 = [
        candle(DAY2, 50 * M, 50_500_000, 49_900_000, 50_400_000),
        candle(DAY2 + timedelta(minutes=1), 50_400_000, 51 * M, 50_300_000, 50_900_000),
    ]
    opening = 50_500_000
    for i, close in enumerate(closes):
        high, low = max(opening, close), min(opening, close)
        day2.append(candle(DAY2 + timedelta(minutes=2 + i), opening, high, low, close))
        opening = close
    day3 = [candle(DAY3, opening, opening, opening, opening)]
    return list(fill_gaps(day1 + day2 + day3))


def bought() -> tuple[D, D]:
    """The breakout's BTC and the cash left: A = 10M / 1.0005 at 50.5M (strategies.md §1)."""
    price = D(50_500_000)
    qty = floor8(CAPITAL / (1 + FEE) / price)
    return qty, CAPITAL - qty * price - qty * price * FEE


def decoded(engine: RunEngine) -> list[tuple[str, dict[str, Any]]]:
    return [(topic, json.loads(body)) for topic, body, _ in events(engine)]


def test_a_daily_loss_breach_halts_on_exactly_the_crossing_candle() -> None:
    # Given a breakout entry, the grid's two resting BUYs, a falling price and a 300,000 KRW
    # daily loss limit; the day started at 20,000,000 KRW (the previous session's last close)
    closes = [50_500_000 - 100_000 * k for k in range(1, 17)]
    candles = breakout_then(closes)
    limit = D(300_000)
    qty, cash = bought()
    loss = {c.open_time: CAPITAL - cash - qty * c.close for c in candles if c.open_time >= DAY2}
    crossing = min(
        at for at, value in loss.items() if at > DAY2 + timedelta(minutes=1) and value >= limit
    )
    # When the backtest runs (both paths; run_both checks they append the same events)
    engine = run_both(candles, ["volatility_breakout", "grid"], GRID, Limits(daily_loss_krw=limit))
    found = decoded(engine)
    # Then the one breach is the crossing candle's, recorded at its close, then the halt
    close_at = (crossing + timedelta(minutes=1)).isoformat()
    [at] = [n for n, (topic, _) in enumerate(found) if topic == "risk.limit.breached"]
    breach = found[at][1]
    assert (breach["limit"], breach["action"]) == ("daily_loss", "halt")
    assert breach["candle_open_time"] == crossing.isoformat()
    assert (D(breach["measured"]), D(breach["threshold"])) == (loss[crossing], limit)
    assert breach["occurred_at"] == close_at and breach["actor"] == "risk-monitor"
    halted = found[at + 1]
    assert halted[0] == "risk.trading.halted" and "daily_loss" in halted[1]["reason"]
    # And the grid's two open BUYs are cancelled at that close, naming the breach
    cancels = [body for topic, body in found[at + 2 :] if topic == "order.cancelled"]
    assert len(cancels) == 2
    assert all(c["occurred_at"] == close_at and "daily_loss" in c["reason"] for c in cancels)
    # And every later order of a strategy is placed and rejected by risk, locking nothing:
    # nothing is accepted, reserved or filled after the halt
    later = found[at + 2 :]
    topics = [topic for topic, _ in later]
    assert not {"order.accepted", "ledger.cash.reserved", "order.filled"} & set(topics)
    placed = [n for n, topic in enumerate(topics) if topic == "order.placed"]
    assert placed, "the breakout's exit at the session's end is a later order"
    for n in placed:
        assert later[n][1]["locked_krw"] == "0" and later[n][1]["locked_btc"] == "0"
        rejected_topic, rejected = later[n + 1]
        assert rejected_topic == "order.rejected" and rejected["rejected_by"] == "risk"
        assert rejected["reason"].startswith("trading_halted: ")
    assert engine.risk.state is TradingState.HALTED
    assert engine.tracks["volatility_breakout"].denials == {"trading_halted": len(placed)}


def test_no_breach_is_recorded_while_the_loss_stays_below_the_limit() -> None:
    engine = run_both(
        breakout_then([50_400_000, 50_300_000]),
        ["volatility_breakout"],
        {},
        Limits(daily_loss_krw=D(300_000)),
    )
    topics = [topic for topic, _ in decoded(engine)]
    assert not [t for t in topics if t == "risk.limit.breached" or t.startswith("risk.trading")]
    assert "order.rejected" not in topics


def test_a_drawdown_breach_reduces_liquidates_at_market_and_halts_once_flat() -> None:
    # Given the breakout's position and the grid's resting BUYs, a 1 % drawdown limit from the
    # peak equity (20,000,000 KRW before the entry) and a price falling 100,000 KRW a minute
    closes = [50_500_000 - 100_000 * k for k in range(1, 12)]
    candles = breakout_then(closes)
    qty, cash = bought()
    peak = 2 * CAPITAL
    drawdown = {c.open_time: 1 - (CAPITAL + cash + qty * c.close) / peak for c in candles}
    crossing = min(
        at
        for at, value in drawdown.items()
        if at > DAY2 + timedelta(minutes=1) and value >= D("0.01")
    )
    # When the backtest runs
    engine = run_both(
        candles, ["volatility_breakout", "grid"], GRID, Limits(max_drawdown=D("0.01"))
    )
    found = decoded(engine)
    # Then at the crossing candle's close: the breach, REDUCING, the grid's BUYs cancelled, and
    # a market ask of the breakout's whole position placed by the risk monitor
    [at] = [n for n, (topic, _) in enumerate(found) if topic == "risk.limit.breached"]
    assert found[at][1]["candle_open_time"] == crossing.isoformat()
    assert (found[at][1]["limit"], found[at][1]["action"]) == ("drawdown", "reduce")
    assert found[at + 1][0] == "risk.trading.reduced"
    step = [topic for topic, _ in found[at + 2 : at + 6]]
    assert step == ["order.cancelled", "ledger.reservation.released"] * 2
    placed = next(body for topic, body in found[at:] if topic == "order.placed")
    assert (placed["actor"], placed["side"], placed["order_type"]) == (
        "risk-monitor",
        "ask",
        "market",
    )
    assert (placed["strategy_id"], D(placed["volume_btc"])) == ("volatility_breakout", qty)
    # And the ask fills at the next candle's open; at that close the account is flat: HALTED
    next_close = (crossing + timedelta(minutes=2)).isoformat()
    filled = next(body for topic, body in found[at:] if topic == "order.filled")
    assert filled["occurred_at"] == next_close
    halted = [body for topic, body in found if topic == "risk.trading.halted"]
    assert [h["occurred_at"] for h in halted] == [next_close]
    assert "flat" in halted[0]["reason"] and halted[0]["from_state"] == "REDUCING"
    assert engine.tracks["volatility_breakout"].book.qty_btc == 0


def test_an_exposure_breach_is_recorded_once_per_crossing_and_changes_no_state() -> None:
    # Given the breakout's ~0.198 BTC and an exposure limit of 10,000,000 KRW, crossed when
    # the close rises above 10,000,000 / qty (about 50.53M), twice
    qty, _ = bought()
    level = D(10 * M) / qty
    up, down = int(level) + 50_000, int(level) - 50_000
    engine = run_both(
        breakout_then([up, up + 100_000, down, up]),
        ["volatility_breakout"],
        {},
        Limits(max_exposure_krw=D(10 * M)),
    )
    breaches = [body for topic, body in decoded(engine) if topic == "risk.limit.breached"]
    # Then one breach per upward crossing, naming the strategy, and no state change
    opens = [(DAY2 + timedelta(minutes=m)).isoformat() for m in (2, 5)]
    assert [b["candle_open_time"] for b in breaches] == opens
    assert {(b["limit"], b["strategy_id"], b["action"]) for b in breaches} == {
        ("exposure", "volatility_breakout", "block_bids")
    }
    assert D(breaches[0]["measured"]) == qty * up
    assert engine.risk.state is TradingState.ACTIVE
    assert not [t for t, _ in decoded(engine) if t.startswith("risk.trading.")]


def test_limits_are_recorded_on_the_run_account_and_a_run_without_limits_records_none() -> None:
    candles = breakout_then([50_400_000])
    with_limits = decoded(
        run_both(candles, ["volatility_breakout"], {}, Limits(max_order_krw=D(20 * M)))
    )
    [limits] = [body for topic, body in with_limits if topic == "risk.limits.set"]
    assert limits["max_order_krw"] == "20000000" and limits["daily_loss_krw"] is None
    without = decoded(run_both(candles, ["volatility_breakout"], {}, Limits()))
    assert "risk.limits.set" not in [topic for topic, _ in without]
