"""The Position aggregate: quantity and cost basis at average cost, realised P&L, fees apart."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain.errors import InsufficientPositionError
from domain.ids import position_id
from domain.orders.terms import OrderSide
from domain.positions.position import Position
from tests.builders import cause, fill, opened_position

D = Decimal
BID, ASK = OrderSide.BID, OrderSide.ASK


def buy(position: Position, trade_id: str, price: str, qty: str, minute: int = 1) -> Decimal:
    """Apply a bid fill at the 0.05 % fee; return the P&L it realised (none)."""
    one = fill(trade_id, price_krw=price, qty_btc=qty)
    return position.apply_fill(order_id="bid", side=BID, fill=one, cause=cause(minute))


def sell(position: Position, trade_id: str, price: str, qty: str, minute: int = 1) -> Decimal:
    """Apply an ask fill at the 0.05 % fee; return the P&L it realised."""
    one = fill(trade_id, price_krw=price, qty_btc=qty)
    return position.apply_fill(order_id="ask", side=ASK, fill=one, cause=cause(minute))


def position_after_two_buys() -> Position:
    """0.01 BTC at 50,000,000 (500,000 KRW) + 0.02 BTC at 53,000,000 (1,060,000 KRW)."""
    position = opened_position()
    buy(position, "t-1", "50000000", "0.01", minute=1)
    buy(position, "t-2", "53000000", "0.02", minute=2)
    position.collect_events()
    return position


def test_open_position_is_flat_and_keyed_by_strategy_and_market() -> None:
    position = Position.open(account="main", strategy_id="alpha", market="KRW-BTC", cause=cause(0))

    (opened,) = position.collect_events()
    assert isinstance(opened, Position.Opened)
    assert position.id == position_id("main", "alpha", "KRW-BTC")
    assert (position.qty_btc, position.cost_basis_krw, position.realised_pnl_krw) == (0, 0, 0)
    assert position.average_cost_krw is None


def test_bid_fills_add_quantity_and_funds_to_the_cost_basis() -> None:
    position = position_after_two_buys()

    assert position.qty_btc == D("0.03")
    assert position.cost_basis_krw == D("1560000")
    assert position.average_cost_krw == D("52000000")
    assert position.realised_pnl_krw == 0


def test_bid_fill_records_changed_with_the_state_after_it_and_keeps_fees_apart() -> None:
    # Given a flat position
    position = opened_position()

    # When 0.01 BTC is bought at 50,000,000 KRW with a 250 KRW fee
    realised = position.apply_fill(
        order_id="o-1",
        side=BID,
        fill=fill("t-1", price_krw="50000000", qty_btc="0.01", fee_krw="250"),
        cause=cause(1),
    )

    # Then Changed carries the fill and the state after it; the fee is not part of the cost
    (changed,) = position.collect_events()
    assert isinstance(changed, Position.Changed)
    assert (changed.order_id, changed.trade_id, changed.side) == ("o-1", "t-1", "bid")
    assert (changed.qty_after_btc, changed.cost_basis_after_krw) == (D("0.01"), D("500000"))
    assert (changed.cost_released_krw, changed.realised_pnl_krw) == (0, 0)
    assert changed.fee_krw == D("250")
    assert realised == 0
    assert position.fees_krw == D("250")
    assert position.cost_basis_krw == D("500000")


def test_partial_sale_releases_cost_at_average_cost_and_realises_the_difference() -> None:
    # Given 0.03 BTC at an average cost of 52,000,000 KRW
    position = position_after_two_buys()

    # When 0.015 BTC is sold at 54,000,000 KRW
    realised = sell(position, "t-3", "54000000", "0.015", minute=3)

    # Then 780,000 KRW of cost is released and 810,000 - 780,000 = 30,000 KRW realised
    (changed,) = position.collect_events()
    assert isinstance(changed, Position.Changed)
    assert changed.cost_released_krw == D("780000")
    assert realised == changed.realised_pnl_krw == D("30000")
    assert (position.qty_btc, position.cost_basis_krw) == (D("0.015"), D("780000"))
    assert position.average_cost_krw == D("52000000")


def test_sale_of_everything_releases_all_cost_and_closes_the_position() -> None:
    # Given 0.015 BTC left at a cost of 780,000 KRW, after a sale that realised 30,000 KRW
    position = position_after_two_buys()
    sell(position, "t-3", "54000000", "0.015", minute=3)
    position.collect_events()

    # When the rest is sold at 51,000,000 KRW (765,000 KRW)
    realised = sell(position, "t-4", "51000000", "0.015", minute=4)

    # Then Changed releases all 780,000 KRW (-15,000 realised) and Closed gives the totals
    changed, closed = position.collect_events()
    assert isinstance(changed, Position.Changed) and isinstance(closed, Position.Closed)
    assert changed.cost_released_krw == D("780000")
    assert realised == D("-15000")
    assert closed.realised_pnl_total_krw == D("15000")
    assert closed.fees_total_krw == position.fees_krw
    assert (position.qty_btc, position.cost_basis_krw) == (0, 0)
    assert position.average_cost_krw is None


def test_partial_sale_with_unending_share_rounds_released_cost_half_even_to_1e_8() -> None:
    # Given 0.03 BTC that cost 1,000,000 KRW (0.01 at 50,000,000 and 0.02 at 25,000,000)
    position = opened_position()
    buy(position, "t-1", "50000000", "0.01", minute=1)
    buy(position, "t-2", "25000000", "0.02", minute=1)
    position.collect_events()

    # When a third of it is sold at 50,000,000 KRW
    realised = sell(position, "t-3", "50000000", "0.01", minute=2)

    # Then 1,000,000 / 3 is released rounded to 1e-8 KRW, and the rest stays in the basis
    (changed,) = position.collect_events()
    assert isinstance(changed, Position.Changed)
    assert changed.cost_released_krw == D("333333.33333333")
    assert realised == D("500000") - D("333333.33333333")
    assert position.cost_basis_krw == D("666666.66666667")


def test_partial_sales_then_full_sale_release_exactly_the_whole_cost() -> None:
    # Given 0.03 BTC that cost 1,000,000 KRW, which does not divide by three
    position = opened_position()
    buy(position, "t-1", "50000000", "0.01", minute=1)
    buy(position, "t-2", "25000000", "0.02", minute=1)
    position.collect_events()

    # When it is sold in three equal parts
    released = []
    for n in range(3):
        sell(position, f"s-{n}", "50000000", "0.01", minute=2 + n)
        changed = position.collect_events()[0]
        assert isinstance(changed, Position.Changed)
        released.append(changed.cost_released_krw)

    # Then each part is rounded (333,333.333333335 half-even to ...34), the last takes the
    # rest, and together they release the whole cost to the last 1e-8 KRW
    assert released == [D("333333.33333333"), D("333333.33333334"), D("333333.33333333")]
    assert sum(released) == D("1000000")
    assert position.cost_basis_krw == 0


def test_ask_fill_selling_more_than_held_is_refused_and_records_nothing() -> None:
    position = position_after_two_buys()

    with pytest.raises(InsufficientPositionError) as refused:
        sell(position, "t-3", "54000000", "0.03000001", minute=3)

    assert "sells 0.03000001 BTC but strategy alpha holds 0.03 BTC of KRW-BTC" in str(refused.value)
    assert position.collect_events() == []
    assert position.qty_btc == D("0.03")


def test_cash_identity_holds_for_the_position_side_of_a_round_trip() -> None:
    # Given the position of a strategy that starts with 1,000,000 KRW cash
    allocated = D("1000000")
    cash = allocated
    position = opened_position()
    trades = [
        (BID, "50000000", "0.01"),
        (BID, "52000000", "0.005"),
        (ASK, "53000000", "0.007"),
        (ASK, "49000000", "0.008"),
    ]

    # When it trades, each fill moving cash by funds and fee
    for n, (side, price, qty) in enumerate(trades):
        one = fill(f"t-{n}", price_krw=price, qty_btc=qty)
        position.apply_fill(order_id="o", side=side, fill=one, cause=cause(n))
        sign = -1 if side is BID else 1
        cash += sign * one.funds_krw - one.fee_krw

        # Then cash + cost basis == allocated + realised P&L - fees after every fill
        assert cash + position.cost_basis_krw == (
            allocated + position.realised_pnl_krw - position.fees_krw
        )
