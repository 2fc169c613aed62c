"""Turtle, rule by rule (strategies.md §2), with hand-computed figures."""

from __future__ import annotations

from decimal import Decimal as D

from domain.money import floor8
from domain.orders.terms import OrderSide
from domain.session_bars import SessionBar
from domain.strategies.base import FillNotice, OrderEnd, OrderEndNotice, OrderIntent
from domain.strategies.turtle import Turtle, TurtleParams
from tests.unit.domain.strategies.contexts import FEE, bar, book, candle, context

M = 1_000_000
PARAMS = TurtleParams(entry_days=3, exit_days=2, atr_days=2)


def feed(turtle: Turtle, bars: list[SessionBar], b=None):  # type: ignore[no-untyped-def]
    """Complete the bars one by one; return the decisions at the last one."""
    decisions: list = []  # type: ignore[type-arg]
    for n in range(len(bars)):
        c = candle(1439 + 1440 * n, 1, 1, 1, 1)
        decisions = turtle.decide(
            context(c, bars[: n + 1], b or book(), session_open=1, just=bars[n])
        )
    return decisions


FLAT = [bar(i, 50 * M, 51 * M, 49 * M, 50 * M) for i in range(3)]  # TR 2M each


def test_no_decision_before_max_of_entry_and_atr_days_plus_one_bars() -> None:
    # Three flat bars then a breakout close as the 4th bar: 4 = max(3, 2) + 1 bars complete
    assert feed(Turtle(PARAMS), [*FLAT[:2], bar(2, 50 * M, 60 * M, 49 * M, 59 * M)]) == []


def test_entry_on_a_close_above_the_channel_buys_one_unit_sized_by_n() -> None:
    # Given three flat bars (TR 2M) and a 4th bar closing at 52M above the 51M channel
    breakout = bar(3, 50 * M, 52 * M, 50 * M, 52 * M)  # TR max(2M, 2M, 1M) = 2M
    (intent,) = feed(Turtle(PARAMS), [*FLAT, breakout])
    # N: first 2 TRs mean 2M, then Wilder ((2-1) x 2M + 2M) / 2 = 2M for bars 3 and 4
    n = D(2 * M)
    unit = floor8(D("0.01") * D(10_000_000) / n)  # equity 10M at C_t (flat: all cash)
    assert isinstance(intent, OrderIntent) and intent.side is OrderSide.BID
    assert intent.amount_krw == min(unit * D(52 * M), D(10_000_000) / (1 + FEE))
    assert intent.reference_price_krw == D(52 * M)


def test_no_entry_when_the_close_only_equals_the_channel_high() -> None:
    assert feed(Turtle(PARAMS), [*FLAT, bar(3, 50 * M, 51 * M, 50 * M, 51 * M)]) == []


def long_turtle() -> Turtle:
    turtle = Turtle(PARAMS)
    feed(turtle, [*FLAT, bar(3, 50 * M, 52 * M, 50 * M, 52 * M)])
    turtle.on_fill(FillNotice("turtle-1", OrderSide.BID, D(52 * M), D("0.05"), True))
    return turtle


def decide_long(turtle: Turtle, next_bar: SessionBar) -> list:  # type: ignore[type-arg]
    bars = [*FLAT, bar(3, 50 * M, 52 * M, 50 * M, 52 * M), next_bar]
    c = candle(1439 + 1440 * 4, 1, 1, 1, 1)
    return turtle.decide(
        context(c, bars, book("7400000", qty="0.05"), session_open=1, just=next_bar)
    )


def test_exit_on_a_close_below_the_exit_channel_sells_everything() -> None:
    # previous 2 bars' lows: 49M and 50M; a close at 48.9M is below 49M
    (intent,) = decide_long(long_turtle(), bar(4, 50 * M, 50 * M, 48 * M, 48_900_000))
    assert isinstance(intent, OrderIntent)
    assert (intent.side, intent.volume_btc) == (OrderSide.ASK, D("0.05"))


def test_stop_at_last_fill_minus_two_n_entry() -> None:
    # N_entry = 2M, last fill 52M: stop at 48M; lows of the previous 2 bars are 49M and 50M,
    # so a close of 48M exits by the channel first; use a wider channel to see the stop
    turtle = long_turtle()
    turtle.params = TurtleParams(entry_days=3, exit_days=2, atr_days=2, stop_n=D("1.5"))
    # stop at 52M - 1.5 x 2M = 49M: a close at exactly 49M stops (channel min 49M is not beaten)
    (intent,) = decide_long(turtle, bar(4, 50 * M, 50 * M, 49 * M, 49 * M))
    assert isinstance(intent, OrderIntent) and intent.reason == "stop"


def test_pyramid_at_last_fill_plus_half_n_entry_adds_a_unit() -> None:
    # last fill 52M + 0.5 x 2M = 53M: a close at 53M adds one unit
    (intent,) = decide_long(long_turtle(), bar(4, 52 * M, 53 * M, 52 * M, 53 * M))
    assert isinstance(intent, OrderIntent)
    assert (intent.side, intent.reason) == (OrderSide.BID, "pyramid")


def test_no_pyramid_beyond_max_units() -> None:
    turtle = long_turtle()
    turtle.units = PARAMS.max_units
    assert decide_long(turtle, bar(4, 52 * M, 53 * M, 52 * M, 53 * M)) == []


# Orders that risk ended (docs/strategies-notes.md "Turtle").
def test_a_pyramid_buy_that_bought_nothing_is_not_a_unit_and_n_entry_is_restored() -> None:
    # Given a long turtle (one unit, N_entry 2M) that decides a pyramid BUY at a wider N
    turtle = long_turtle()
    before = (turtle.units, turtle.n_entry)
    (intent,) = decide_long(turtle, bar(4, 52 * M, 56 * M, 52 * M, 56 * M))
    assert isinstance(intent, OrderIntent) and intent.reason == "pyramid"
    assert turtle.units == 2 and turtle.n_entry != before[1]
    # When risk refuses it
    turtle.on_order_ended(
        OrderEndNotice(
            intent.tag, OrderSide.BID, OrderEnd.REJECTED, "exposure_limit", "too much", D(0)
        )
    )
    # Then the count and N_entry are what they were before the decision
    assert (turtle.units, turtle.n_entry) == before


def test_a_buy_cancelled_after_it_bought_part_counts_as_a_unit() -> None:
    turtle = long_turtle()
    (intent,) = decide_long(turtle, bar(4, 52 * M, 53 * M, 52 * M, 53 * M))
    turtle.on_order_ended(
        OrderEndNotice(
            intent.tag, OrderSide.BID, OrderEnd.CANCELLED, "trading_halted", "halt", D("0.01")
        )
    )
    assert turtle.units == 2
