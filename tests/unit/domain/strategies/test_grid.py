"""Grid, rule by rule (strategies.md §3 and clarification 9), with hand-computed figures."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from domain.errors import InvalidStrategyParameterError
from domain.money import floor8
from domain.orders.terms import OrderSide, OrderType
from domain.strategies.base import CancelIntent, FillNotice, OrderEnd, OrderEndNotice, OrderIntent
from domain.strategies.grid import Grid, GridParams, grid_lines
from tests.unit.domain.strategies.contexts import book, candle, context

M = 1_000_000
AT = datetime(2023, 3, 10, tzinfo=UTC)
PARAMS = GridParams(
    lower=D(40 * M), upper=D(44 * M), levels=5, order_krw=D(1 * M), stop_loss_pct=D("0.05")
)


def test_arithmetic_lines_are_exact_then_rounded_down_to_the_tick() -> None:
    lines = grid_lines(D(40 * M), D("44000500"), 4, "arithmetic", AT)
    # exact: 40,000,000 + 4,000,500 x i / 3 = 41,333,500 / 42,667,000 / 44,000,500
    assert lines == (D(40 * M), D(41_333_000), D(42_667_000), D(44 * M))


def test_geometric_lines_grow_by_a_constant_ratio_then_round_down() -> None:
    lines = grid_lines(D(40 * M), D(44 * M), 3, "geometric", AT)
    middle = D(40 * M) * (D(44 * M) / D(40 * M)) ** (D(1) / 2)  # 41,952,353.9...
    assert lines == (D(40 * M), (middle // 1000) * 1000, D(44 * M))


def decide(grid: Grid, close: int, b=None):  # type: ignore[no-untyped-def]
    return grid.decide(
        context(candle(0, close, close, close, close), [], b or book(), session_open=close)
    )


def test_first_close_places_a_limit_buy_on_every_line_below_it_in_range() -> None:
    # Given lines 40, 41, 42, 43, 44M and a close of 42.5M
    decisions = decide(Grid(PARAMS), 42_500_000)
    # Then BUYs at 40, 41 and 42M, each of floor8(1,000,000 / P_i) BTC
    assert [
        (d.side, d.order_type, d.price_krw) for d in decisions if isinstance(d, OrderIntent)
    ] == [(OrderSide.BID, OrderType.LIMIT, D(p * M)) for p in (40, 41, 42)]
    assert [d.volume_btc for d in decisions if isinstance(d, OrderIntent)] == [
        floor8(D(M) / D(p * M)) for p in (40, 41, 42)
    ]


def test_no_buys_out_of_range() -> None:
    assert decide(Grid(PARAMS), 45 * M) == []


def test_a_buy_is_placed_only_if_available_cash_covers_it_with_its_fee() -> None:
    # line 0: 0.025 BTC x 40M x 1.0005 = 1,000,500; line 1: 0.02439024 x 41M x 1.0005 =
    # 1,000,499.91...; 2,001,000 KRW covers both, and the 0.08... left cannot cover line 2
    decisions = decide(Grid(PARAMS), 42_500_000, book("2001000"))
    assert [d.price_krw for d in decisions if isinstance(d, OrderIntent)] == [D(40 * M), D(41 * M)]
    assert len(decide(Grid(PARAMS), 42_500_000, book("2000999"))) == 1


def test_a_completed_buy_places_the_sell_one_line_up_and_a_completed_sell_frees_the_line() -> None:
    grid = Grid(PARAMS)
    decide(grid, 40_500_000)  # line 0 buys at 40M
    qty = floor8(D(M) / D(40 * M))
    grid.on_fill(FillNotice("grid-0-buy", OrderSide.BID, D(40 * M), qty, True))
    (sell,) = decide(grid, 40_200_000)
    assert isinstance(sell, OrderIntent)
    assert (sell.side, sell.price_krw, sell.volume_btc) == (OrderSide.ASK, D(41 * M), qty)
    grid.on_fill(FillNotice("grid-0-sell", OrderSide.ASK, D(41 * M), qty, True))
    # The same pass frees line 0 and buys on it again (clarification 9)
    (again,) = decide(grid, 40_900_000)  # the sell touched 41M; the close fell back
    assert isinstance(again, OrderIntent) and again.price_krw == D(40 * M)


def test_a_partial_fill_keeps_the_line_buying() -> None:
    grid = Grid(PARAMS)
    decide(grid, 40_500_000)
    grid.on_fill(FillNotice("grid-0-buy", OrderSide.BID, D(40 * M), D("0.01"), False))
    assert decide(grid, 40_200_000) == []


def test_stop_loss_cancels_everything_sells_all_and_stays_stopped() -> None:
    grid = Grid(PARAMS)
    decide(grid, 40_500_000)
    # stop line: 40M x (1 - 0.05) = 38M; a close of 37,999,000 fires it
    cancel, sell = decide(grid, 37_999_000, book(qty="0.025"))
    assert isinstance(cancel, CancelIntent)
    assert isinstance(sell, OrderIntent)
    assert (sell.side, sell.order_type, sell.volume_btc) == (
        OrderSide.ASK,
        OrderType.MARKET,
        D("0.025"),
    )
    assert decide(grid, 42 * M) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lower": D(44 * M), "upper": D(40 * M)}, "must be > 0 and below upper"),
        ({"levels": 1}, "levels 1 must be at least 2"),
        ({"lower": D(40 * M)}, "give both lower and upper"),
        ({"spacing": "log"}, "must be arithmetic or geometric"),
    ],
)
def test_bad_grid_parameters_are_refused(kwargs: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(InvalidStrategyParameterError, match=message):
        GridParams(**kwargs)


# Orders that risk ended (docs/strategies-notes.md "Grid").
def ended(tag: str, side: OrderSide, code: str, filled: str = "0") -> OrderEndNotice:
    end = OrderEnd.CANCELLED if code.startswith("trading_") else OrderEnd.REJECTED
    return OrderEndNotice(tag, side, end, code, f"{code}: refused", D(filled))


def test_a_buy_refused_by_a_limit_empties_its_line_and_pauses_buys_until_the_next_session() -> None:
    # Given BUYs placed on lines 0-2 at a close of 42.5M
    grid = Grid(PARAMS)
    decide(grid, 42_500_000)
    # When risk refuses line 2's BUY (exposure)
    grid.on_order_ended(ended("grid-2-buy", OrderSide.BID, "exposure_limit"))
    # Then line 2 is empty again, and no BUY is placed for the rest of the session
    assert grid.states[2] == "empty"
    assert decide(grid, 42_500_000) == []
    # And at the first close of the next session it buys on the line again
    tomorrow = candle(1440, 42_500_000, 42_500_000, 42_500_000, 42_500_000)
    (again,) = grid.decide(context(tomorrow, [], book(), session_open=42_500_000))
    assert isinstance(again, OrderIntent) and again.tag == "grid-2-buy"


def test_a_fill_lifts_the_pause_of_a_refused_buy() -> None:
    grid = Grid(PARAMS)
    decide(grid, 42_500_000)
    grid.on_order_ended(ended("grid-2-buy", OrderSide.BID, "exposure_limit"))
    grid.on_fill(FillNotice("grid-0-buy", OrderSide.BID, D(40 * M), D("0.01"), False))
    assert [d.tag for d in decide(grid, 42_500_000) if isinstance(d, OrderIntent)] == ["grid-2-buy"]


@pytest.mark.parametrize(
    ("tag", "side", "code", "filled"),
    [
        ("grid-1-buy", OrderSide.BID, "trading_halted", "0.01"),  # cancelled by a halt
        ("grid-1-buy", OrderSide.BID, "trading_reducing", "0"),  # refused while REDUCING
        ("grid-1-sell", OrderSide.ASK, "order_notional_limit", "0"),  # a refused SELL
    ],
)
def test_an_order_ended_by_the_trading_state_or_a_refused_sell_stops_the_grid_for_good(
    tag: str, side: OrderSide, code: str, filled: str
) -> None:
    # Given a grid with resting BUYs
    grid = Grid(PARAMS)
    decide(grid, 42_500_000)
    # When risk ends one of its orders
    grid.on_order_ended(ended(tag, side, code, filled))
    # Then at its next close it cancels what still rests, and after that it places nothing
    pending = book(pending=("grid-0-buy",))
    assert decide(grid, 42_500_000, pending) == [CancelIntent(reason="grid stopped by risk")]
    assert decide(grid, 41_500_000) == []
    assert grid.is_stopped
