"""The backtest engine: fills from c+1, the order of work, PARTIAL fills, determinism."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from typing import Any

from commands.backtest.report import backtest_report
from commands.run_engine.engine import IN_MEMORY_ENV, EngineConfig, RunEngine
from commands.trading import Trading
from domain.candles.candle import Candle
from domain.candles.gaps import fill_gaps
from domain.fills.paper_fill_model import FillModel
from domain.money import floor8
from domain.strategies.volatility_breakout import VolatilityBreakout

DAY1 = datetime(2023, 1, 1, 23, 50, tzinfo=UTC)
DAY2 = datetime(2023, 1, 2, 0, 0, tzinfo=UTC)
DAY3 = datetime(2023, 1, 3, 0, 0, tzinfo=UTC)
M = 1_000_000


def candle(at: datetime, o: int, h: int, lo: int, c: int, v: str = "2") -> Candle:
    return Candle(at, D(o), D(h), D(lo), D(c), D(v), D(v) * c)


def breakout_day(volume: str = "2") -> list[Candle]:
    """Day 1 (partial, range 2M) then a day 2 whose second minute reaches the 51M target."""
    day1 = [candle(DAY1 + timedelta(minutes=i), 50 * M, 51 * M, 49 * M, 50 * M) for i in range(10)]
    day2 = [
        candle(DAY2, 50 * M, 50_500_000, 49_900_000, 50_400_000, volume),
        candle(DAY2 + timedelta(minutes=1), 50_400_000, 51 * M, 50_300_000, 50_900_000, volume),
    ]
    day2 += [
        candle(
            DAY2 + timedelta(minutes=2 + i),
            50_500_000 + i * 1000,
            50_600_000 + i * 1000,
            50_400_000,
            50_500_000 + i * 1000,
            volume,
        )
        for i in range(8)
    ]
    day3 = [
        candle(DAY3, 52 * M, 52_100_000, 51_900_000, 52 * M),
        candle(DAY3 + timedelta(minutes=1), 52 * M, 52_100_000, 51_900_000, 52 * M),
    ]
    return list(fill_gaps(day1 + day2 + day3))


def run(candles: list[Candle], **model: Any) -> tuple[RunEngine, dict[str, Any]]:
    trading = Trading(IN_MEMORY_ENV, account="test")
    engine = RunEngine(
        trading, [VolatilityBreakout()], EngineConfig("run-test", D("10000000"), FillModel(**model))
    )
    engine.run(candles)
    return engine, backtest_report(engine)


def topics(engine: RunEngine) -> list[str]:
    notifications = engine.trading.recorder.select_notifications(start=None, limit=10_000)
    return [n.topic for n in notifications]


def test_market_entry_decided_at_a_close_fills_at_the_next_open_never_the_same_candle() -> None:
    # Given a breakout at 00:01 of day 2 (high 51M reaches 50M + 0.5 x 2M)
    engine, report = run(breakout_day(), slippage_bps=D(10))
    bid = report["strategies"]["volatility_breakout"]["trades"][0]
    # Then the bid fills at 00:02's open with slippage, recorded at 00:02's close
    price = D(50_500_000) * (1 + D(10) / 10000)
    assert (bid["side"], D(bid["price"])) == ("bid", price)
    assert bid["time"] == (DAY2 + timedelta(minutes=3)).isoformat()
    amount = D("10000000") / (1 + D("0.0005"))
    assert D(bid["qty_btc"]) == floor8(amount / price)


def test_exit_is_decided_at_the_session_end_and_fills_at_the_next_session_open() -> None:
    engine, report = run(breakout_day())
    ask = report["strategies"]["volatility_breakout"]["trades"][1]
    # The 23:59 candle of day 2 (synthetic, flat) closes at day 3 00:00: the sell fills at
    # day 3's first open
    assert (ask["side"], D(ask["price"])) == ("ask", D(52 * M))
    assert ask["time"] == (DAY3 + timedelta(minutes=1)).isoformat()
    assert report["strategies"]["volatility_breakout"]["round_trips"] == 1


def test_participation_fills_a_market_bid_in_parts_and_the_exit_waits_for_it() -> None:
    # Given 10 % participation of 2 BTC candles: at most 0.2 BTC a candle, the bid wants ~0.198
    engine, report = run(breakout_day(volume="0.5"), max_participation=D("0.1"))
    fills = report["strategies"]["volatility_breakout"]["trades"]
    bids = [f for f in fills if f["side"] == "bid"]
    # Then the bid fills 0.05 BTC per candle at each open, PARTIAL until the KRW left buys
    # less than the cap: floor8(remaining / p) at the fourth candle (clarification 6)
    amount = D("10000000") / (1 + D("0.0005"))
    opens = [D(50_500_000 + i * 1000) for i in range(4)]
    spent = sum(D("0.05") * p for p in opens[:3])
    assert [D(f["qty_btc"]) for f in bids] == [D("0.05")] * 3 + [
        floor8((amount - spent) / opens[3])
    ]
    assert [D(f["price"]) for f in bids] == opens
    fills_seen = [t for t in topics(engine) if t.startswith("order.") and "fill" in t]
    assert fills_seen[:4] == ["order.partially_filled"] * 3 + ["order.filled"]


def test_two_runs_on_the_same_candles_give_the_same_replay_hash() -> None:
    candles = breakout_day()
    _, first = run(candles)
    _, second = run(candles)
    _, other = run(candles, slippage_bps=D(5))
    assert first["replay_hash"] == second["replay_hash"]
    assert first["replay_hash"] != other["replay_hash"]


def test_every_decision_event_of_a_run_is_in_the_log_in_order() -> None:
    engine, _ = run(breakout_day())
    decision = [t for t in topics(engine) if t.startswith(("strategy.", "order."))]
    assert decision[:3] == ["strategy.signal.created", "order.placed", "order.accepted"]
    assert decision[3] == "order.filled"
    assert decision[4:7] == ["strategy.signal.created", "order.placed", "order.accepted"]
    assert decision[7] == "order.filled"
