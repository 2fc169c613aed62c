"""Volatility breakout, rule by rule (strategies.md §1), with hand-computed figures."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from domain.errors import InvalidStrategyParameterError
from domain.orders.terms import OrderSide, OrderType
from domain.strategies.base import OrderEnd, OrderEndNotice, OrderIntent
from domain.strategies.volatility_breakout import VolatilityBreakout, VolatilityBreakoutParams
from tests.unit.domain.strategies.contexts import FEE, bar, book, candle, context

M = 1_000_000
PREV = bar(-1, 49 * M, 51 * M, 47 * M, 50 * M)  # range 4,000,000
# target = session open 50,000,000 + 0.5 x 4,000,000 = 52,000,000


def test_entry_when_the_high_reaches_the_target_buys_at_market_all_available_cash() -> None:
    # Given the previous bar's range 4M and the session open 50M: target 52M
    strategy = VolatilityBreakout()
    c = candle(30, 51_500_000, 52 * M, 51_400_000, 51_900_000)
    # When a candle's high reaches 52,000,000 exactly
    (intent,) = strategy.decide(context(c, [PREV], book(), session_open=50 * M))
    # Then a market BID of A = 1.0 x 10,000,000 / (1 + 0.0005); reference max(target, open)
    assert isinstance(intent, OrderIntent)
    assert (intent.side, intent.order_type) == (OrderSide.BID, OrderType.MARKET)
    assert intent.amount_krw == D("1.0") * D("10000000") / (1 + FEE)
    assert intent.reference_price_krw == D(52 * M)


def test_no_entry_while_the_high_stays_below_the_target() -> None:
    c = candle(30, 51_500_000, 51_999_000, 51_400_000, 51_900_000)
    assert VolatilityBreakout().decide(context(c, [PREV], book(), session_open=50 * M)) == []


def test_reference_price_is_the_open_when_the_candle_opens_above_the_target() -> None:
    c = candle(30, 52_500_000, 52_600_000, 52_400_000, 52_500_000)
    (intent,) = VolatilityBreakout().decide(context(c, [PREV], book(), session_open=50 * M))
    assert isinstance(intent, OrderIntent) and intent.reference_price_krw == D(52_500_000)


def test_no_entry_at_the_last_minute_of_the_session() -> None:
    last_minute = candle(1439, 51 * M, 53 * M, 51 * M, 52 * M)  # closes at 24:00 UTC
    assert (
        VolatilityBreakout().decide(context(last_minute, [PREV], book(), session_open=50 * M)) == []
    )


def test_at_most_one_entry_per_session() -> None:
    strategy = VolatilityBreakout()
    c = candle(30, 51 * M, 53 * M, 51 * M, 52 * M)
    assert strategy.decide(context(c, [PREV], book(), session_open=50 * M))
    # Flat again later in the same session (say the exit filled): no second entry
    later = candle(600, 51 * M, 53 * M, 51 * M, 52 * M)
    assert strategy.decide(context(later, [PREV], book(), session_open=50 * M)) == []


def test_no_decision_while_an_order_is_pending() -> None:
    c = candle(30, 51 * M, 53 * M, 51 * M, 52 * M)
    pending = book(pending=("volatility_breakout-1",))
    assert VolatilityBreakout().decide(context(c, [PREV], pending, session_open=50 * M)) == []


def test_exit_sells_everything_at_the_close_of_the_entry_sessions_last_minute() -> None:
    strategy = VolatilityBreakout()
    strategy.decide(
        context(candle(30, 51 * M, 53 * M, 51 * M, 52 * M), [PREV], book(), session_open=50 * M)
    )
    held = book("100", qty="0.19")
    # Before the session's end: hold
    assert (
        strategy.decide(
            context(candle(1438, 53 * M, 53 * M, 53 * M, 53 * M), [PREV], held, session_open=50 * M)
        )
        == []
    )
    # At the close of 23:59 (close_time = session end): SELL 0.19 at market, reference the close
    (intent,) = strategy.decide(
        context(candle(1439, 53 * M, 54 * M, 53 * M, 53_500_000), [PREV], held, session_open=50 * M)
    )
    assert isinstance(intent, OrderIntent)
    assert (intent.side, intent.volume_btc, intent.reference_price_krw) == (
        OrderSide.ASK,
        D("0.19"),
        D(53_500_000),
    )


def test_entry_below_the_minimum_total_is_not_placed_and_not_counted() -> None:
    strategy = VolatilityBreakout()
    c = candle(30, 51 * M, 53 * M, 51 * M, 52 * M)
    assert (
        strategy.decide(context(c, [PREV], book("5001", available="5001"), session_open=50 * M))
        == []
    )
    assert strategy.decide(
        context(candle(31, 51 * M, 53 * M, 51 * M, 52 * M), [PREV], book(), session_open=50 * M)
    )


def test_ma_filter_allows_entries_only_above_the_mean_of_the_last_closes() -> None:
    bars = [bar(-3, 1, 2, 1, 49 * M), bar(-2, 1, 2, 1, 51 * M), PREV]  # closes 49M, 51M, 50M
    c = candle(30, 51 * M, 53 * M, 51 * M, 52 * M)
    strategy = VolatilityBreakout(VolatilityBreakoutParams(ma_days=3))
    # mean 50,000,000: a session opening at exactly 50M is not above it
    assert strategy.decide(context(c, bars, book(), session_open=50 * M)) == []
    assert strategy.decide(context(c, bars, book(), session_open=50_001_000))
    # fewer bars than ma_days: no entry (clarification 8)
    assert (
        VolatilityBreakout(VolatilityBreakoutParams(ma_days=4)).decide(
            context(c, bars, book(), session_open=51 * M)
        )
        == []
    )


def test_noise_mode_uses_the_mean_noise_ratio_of_the_last_bars() -> None:
    # noise of PREV = 1 - |49 - 50| / (51 - 47) = 0.75; of a flat bar = 1: mean 0.875
    bars = [bar(-2, 50 * M, 50 * M, 50 * M, 50 * M), PREV]
    strategy = VolatilityBreakout(VolatilityBreakoutParams(k_mode="noise", noise_days=2))
    assert strategy.target(D(50 * M), bars) == D(50 * M) + D("0.875") * D(4 * M)
    assert (
        VolatilityBreakout(VolatilityBreakoutParams(k_mode="noise", noise_days=3)).target(
            D(50 * M), bars
        )
        is None
    )


@pytest.mark.parametrize(
    "kwargs", [{"k_mode": "adaptive"}, {"k": D(0)}, {"allocation": D("1.5")}, {"ma_days": -1}]
)
def test_parameters_out_of_range_are_refused(kwargs: dict) -> None:  # type: ignore[type-arg]
    with pytest.raises(InvalidStrategyParameterError):
        VolatilityBreakoutParams(**kwargs)


# Orders that risk ended (docs/strategies-notes.md "Volatility breakout").
def denied(tag: str, side: OrderSide, filled: str = "0") -> OrderEndNotice:
    end = OrderEnd.REJECTED if filled == "0" else OrderEnd.CANCELLED
    return OrderEndNotice(tag, side, end, "trading_halted", "trading is HALTED", D(filled))


def test_a_denied_entry_spends_the_sessions_entry_and_leaves_the_strategy_flat() -> None:
    # Given an entry decided at 00:30
    strategy = VolatilityBreakout()
    c = candle(30, 51 * M, 53 * M, 51 * M, 52 * M)
    (entry,) = strategy.decide(context(c, [PREV], book(), session_open=50 * M))
    # When risk refuses it
    strategy.on_order_ended(denied(entry.tag, OrderSide.BID))
    # Then it is not holding, and no second entry is tried in the same session
    assert strategy.holding_day is None
    later = candle(31, 51 * M, 53 * M, 51 * M, 52 * M)
    assert strategy.decide(context(later, [PREV], book(), session_open=50 * M)) == []


def test_a_denied_exit_falls_due_again_at_the_end_of_the_next_session_not_every_close() -> None:
    # Given a position held and its exit decided at the close of the session's last minute
    strategy = VolatilityBreakout()
    strategy.decide(
        context(candle(30, 51 * M, 53 * M, 51 * M, 52 * M), [PREV], book(), session_open=50 * M)
    )
    held = book("100", qty="0.19")
    last = candle(1439, 53 * M, 53 * M, 53 * M, 53 * M)
    (exit_,) = strategy.decide(context(last, [PREV], held, session_open=50 * M))
    # When risk refuses the exit (trading HALTED)
    strategy.on_order_ended(denied(exit_.tag, OrderSide.ASK))
    # Then it does not retry at the next closes of the next session
    next_day = [candle(1440 + m, 53 * M, 53 * M, 53 * M, 53 * M) for m in (0, 1, 1438)]
    assert all(
        strategy.decide(context(c, [PREV], held, session_open=53 * M)) == [] for c in next_day
    )
    # But at the end of the next session it sells again
    (again,) = strategy.decide(
        context(candle(2879, 53 * M, 53 * M, 53 * M, 53 * M), [PREV], held, session_open=53 * M)
    )
    assert isinstance(again, OrderIntent) and again.side is OrderSide.ASK
