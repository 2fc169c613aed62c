"""The Order aggregate: placing, accepting, fills (idempotent by trade id), cancel and reject.

Given an order built from its commands (events collected), when one command runs, then the
exact new events, or the exact error and no new events (style S5.3).
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain.errors import (
    ConflictingFillError,
    FillBeyondLimitPriceError,
    FillExceedsOrderError,
    IllegalOrderTransitionError,
    InvalidAmountError,
    InvalidOrderShapeError,
    MissingTextError,
)
from domain.ids import order_id
from domain.orders.fill import Fill
from domain.orders.order import Order
from domain.orders.status import OrderStatus
from domain.orders.terms import OrderSide, OrderType
from tests.builders import at, cause, fee, open_order, placed_order, terms

D = Decimal


def record(
    order: Order,
    trade_id: str = "t-1",
    *,
    qty: str = "0.004",
    price: str = "50000000",
    fee_krw: str | None = None,
    minute: int = 3,
) -> Fill | None:
    """Record a fill on the order (the 0.05 % fee unless given); return what record_fill did."""
    return order.record_fill(
        trade_id=trade_id,
        price_krw=price,
        qty_btc=qty,
        fee_krw=fee(price, qty) if fee_krw is None else fee_krw,
        cause=cause(minute),
    )


class TestPlace:
    def test_place_limit_bid_records_placed_with_its_terms_and_lock(self) -> None:
        # When a limit bid of 0.01 BTC at 50,000,000 KRW is placed with its 0.05 % fee locked
        order = Order.place(
            client_order_id="bid-1",
            strategy_id="alpha",
            terms=terms("bid", "limit", price_krw="50000000", volume_btc="0.01"),
            locked=(D("500250"), D(0)),
            cause=cause(1),
        )

        # Then one Placed event carries the terms, the lock and the envelope
        (placed,) = order.collect_events()
        assert isinstance(placed, Order.Placed)
        assert placed.originator_id == order_id("bid-1")
        assert (placed.client_order_id, placed.strategy_id, placed.market) == (
            "bid-1",
            "alpha",
            "KRW-BTC",
        )
        assert (placed.side, placed.order_type) == ("bid", "limit")
        assert (placed.price_krw, placed.volume_btc, placed.amount_krw) == (
            D("50000000"),
            D("0.01"),
            None,
        )
        assert (placed.locked_krw, placed.locked_btc) == (D("500250"), D(0))
        assert placed.occurred_at == at(1)
        assert order.status is OrderStatus.NEW
        assert order.version == 1

    def test_place_order_with_blank_client_order_id_is_refused(self) -> None:
        with pytest.raises(MissingTextError, match="client order id"):
            Order.place(
                client_order_id="  ",
                strategy_id="alpha",
                terms=terms(),
                locked=(D("500250"), D(0)),
                cause=cause(1),
            )

    def test_placed_order_starts_with_nothing_executed(self) -> None:
        order = placed_order()

        assert order.executed_volume_btc == 0
        assert order.executed_funds_krw == 0
        assert order.paid_fee_krw == 0
        assert order.average_price_krw is None
        assert order.fills == {}
        assert (order.side, order.order_type) == (OrderSide.BID, OrderType.LIMIT)


class TestAccept:
    def test_accept_new_order_records_accepted_and_opens_it(self) -> None:
        order = placed_order()

        order.accept("upbit-uuid-1", cause(2))

        (accepted,) = order.collect_events()
        assert isinstance(accepted, Order.Accepted)
        assert accepted.exchange_order_id == "upbit-uuid-1"
        assert order.status is OrderStatus.OPEN
        assert order.exchange_order_id == "upbit-uuid-1"

    def test_accept_with_blank_exchange_order_id_is_refused_and_records_nothing(self) -> None:
        order = placed_order()

        with pytest.raises(MissingTextError, match="exchange order id"):
            order.accept(" ", cause(2))

        assert order.collect_events() == []
        assert order.status is OrderStatus.NEW


class TestFill:
    def test_partial_fill_of_open_order_records_partially_filled(self) -> None:
        # Given an OPEN limit bid of 0.01 BTC
        order = open_order()

        # When 0.004 BTC fills at 50,000,000 KRW with a 100 KRW fee
        recorded = record(order, "t-1", qty="0.004", fee_krw="100")

        # Then one PartiallyFilled event; the order is PARTIAL with the fill's figures
        (event,) = order.collect_events()
        assert isinstance(event, Order.PartiallyFilled)
        assert (event.trade_id, event.price_krw, event.qty_btc, event.fee_krw) == (
            "t-1",
            D("50000000"),
            D("0.004"),
            D("100"),
        )
        assert recorded == Fill("t-1", D("50000000"), D("0.004"), D("100"))
        assert order.status is OrderStatus.PARTIAL
        assert order.executed_volume_btc == D("0.004")
        assert order.executed_funds_krw == D("200000")
        assert order.paid_fee_krw == D("100")

    def test_fill_of_whole_volume_records_filled(self) -> None:
        order = open_order()

        record(order, "t-1", qty="0.01", fee_krw="250")

        (event,) = order.collect_events()
        assert isinstance(event, Order.Filled)
        assert order.status is OrderStatus.FILLED
        assert order.locked_remaining() == (0, 0)

    def test_fill_of_a_limit_bid_above_its_limit_price_is_refused(self) -> None:
        # Given an OPEN limit bid at 50,000,000 KRW
        order = open_order()

        # When the exchange reports a fill at 50,001,000 KRW, then it is refused
        with pytest.raises(FillBeyondLimitPriceError) as refused:
            record(order, "t-1", price="50001000", qty="0.004", fee_krw="100")

        assert "50,001,000 KRW is above the limit price 50,000,000 KRW" in str(refused.value)
        assert order.collect_events() == []
        assert order.status is OrderStatus.OPEN

    def test_fill_of_a_limit_ask_below_its_limit_price_is_refused(self) -> None:
        order = open_order(terms("ask", "limit", price_krw="51000000", volume_btc="0.01"))

        with pytest.raises(FillBeyondLimitPriceError, match="is below the limit price"):
            record(order, "t-1", price="50999000", qty="0.01", fee_krw="100")

        assert order.collect_events() == []

    def test_redelivered_fill_of_a_filled_order_is_ignored(self) -> None:
        # Given an order completed by trade t-1
        order = open_order()
        record(order, "t-1", qty="0.01", fee_krw="250")
        order.collect_events()

        # When t-1 arrives again, then nothing happens: fills are idempotent by trade id
        assert record(order, "t-1", qty="0.01", fee_krw="250") is None
        assert order.collect_events() == []
        assert order.status is OrderStatus.FILLED

    def test_fills_at_two_prices_give_the_volume_weighted_average_price(self) -> None:
        # Given an OPEN limit bid of 0.01 BTC at 50,010,000 KRW
        order = open_order(terms("bid", "limit", price_krw="50010000", volume_btc="0.01"))

        # When 0.004 BTC fills at 50,000,000 and 0.006 BTC at 50,010,000
        record(order, "t-1", qty="0.004", fee_krw="0")
        record(order, "t-2", qty="0.006", price="50010000", fee_krw="0", minute=4)

        # Then (200,000 + 300,060) KRW / 0.01 BTC = 50,006,000 KRW per BTC
        assert order.executed_funds_krw == D("500060")
        assert order.average_price_krw == D("50006000")
        assert order.status is OrderStatus.FILLED

    def test_fill_repeated_with_the_same_trade_id_and_figures_is_ignored(self) -> None:
        # Given an order with trade t-1 recorded
        order = open_order()
        record(order, "t-1", qty="0.004", fee_krw="100")
        order.collect_events()

        # When the same trade arrives again (its figures written differently)
        again = record(order, "t-1", qty="0.0040", price="50000000.0", fee_krw="100.0", minute=9)

        # Then nothing is recorded and nothing changes
        assert again is None
        assert order.collect_events() == []
        assert order.executed_volume_btc == D("0.004")
        assert order.version == 3

    def test_fill_repeated_on_a_filled_order_is_ignored(self) -> None:
        # Given an order FILLED by trade t-1
        order = open_order()
        record(order, "t-1", qty="0.01", fee_krw="250")
        order.collect_events()

        # When t-1 arrives again, then it is ignored
        again = record(order, "t-1", qty="0.01", fee_krw="250", minute=9)

        assert again is None
        assert order.collect_events() == []

    def test_fill_with_known_trade_id_and_other_figures_is_refused_naming_both(self) -> None:
        # Given an order with trade t-1 recorded as 0.004 BTC
        order = open_order()
        record(order, "t-1", qty="0.004", fee_krw="100")
        order.collect_events()

        # When t-1 is reported again as 0.005 BTC
        with pytest.raises(ConflictingFillError) as refused:
            record(order, "t-1", qty="0.005", fee_krw="125", minute=4)

        # Then it is refused naming the trade and both figures, and nothing is recorded
        message = str(refused.value)
        assert "trade t-1 was recorded" in message
        assert "as 0.004 BTC at 50000000 KRW (fee 100)" in message
        assert "now 0.005 BTC at 50000000 KRW (fee 125)" in message
        assert order.collect_events() == []
        assert order.executed_volume_btc == D("0.004")

    def test_fill_exceeding_the_remaining_volume_is_refused_and_records_nothing(self) -> None:
        # Given 0.004 of 0.01 BTC filled
        order = open_order()
        record(order, "t-1", qty="0.004", fee_krw="100")
        order.collect_events()

        # When 0.00600001 BTC more is reported
        with pytest.raises(FillExceedsOrderError) as refused:
            record(order, "t-2", qty="0.00600001", fee_krw="150", minute=4)

        # Then it is refused naming the fill and what remains, and nothing is recorded
        assert "0.00600001 BTC exceeds the 0.006 BTC that remains" in str(refused.value)
        assert order.collect_events() == []
        assert order.status is OrderStatus.PARTIAL

    @pytest.mark.parametrize(
        ("field", "value", "rule"),
        [
            ("price_krw", "0", "fill price 0 KRW must be greater than 0"),
            ("qty_btc", "0.000000001", "finer than 1E-8 BTC"),
            ("qty_btc", "-0.001", "fill quantity -0.001 BTC must be greater than 0"),
            ("fee_krw", "-1", "fill fee -1 KRW must not be negative"),
            ("qty_btc", 0.004, "was given as a float"),
            ("trade_id", "", "trade id '' must be a non-empty text"),
        ],
    )
    def test_fill_with_bad_figure_is_refused_and_records_nothing(
        self, field: str, value: object, rule: str
    ) -> None:
        # Given an OPEN order and a fill with one bad figure
        order = open_order()
        figures: dict[str, object] = {
            "trade_id": "t-1",
            "price_krw": "50000000",
            "qty_btc": "0.004",
            "fee_krw": "100",
        }
        figures[field] = value

        # When it is recorded, then it is refused naming the figure and the rule
        with pytest.raises((InvalidAmountError, MissingTextError), match=rule):
            order.record_fill(cause=cause(3), **figures)  # type: ignore[arg-type]

        # And nothing is recorded
        assert order.collect_events() == []
        assert order.executed_volume_btc == 0

    def test_fill_of_new_order_is_refused_as_illegal_transition(self) -> None:
        order = placed_order()

        with pytest.raises(IllegalOrderTransitionError, match="in status NEW cannot fill"):
            record(order, "t-1", qty="0.004", fee_krw="100")

        assert order.collect_events() == []


class TestMarketBid:
    """A market bid spends a KRW amount (Upbit `ord_type=price`)."""

    def market_bid(self) -> Order:
        return open_order(terms("bid", "market", amount_krw="100000"))

    def test_market_bid_fill_leaving_exactly_one_satoshi_of_krw_stays_partial(self) -> None:
        # Given a market bid of 100,000 KRW
        order = self.market_bid()

        # When 0.00199999 BTC fills at 50,000,000 (99,999.5 KRW): 0.5 KRW buys exactly 1e-8 BTC
        record(order, "t-1", qty="0.00199999", fee_krw="49.99975")

        # Then the order is still PARTIAL
        assert order.status is OrderStatus.PARTIAL

    def test_market_bid_completes_when_remaining_krw_buys_less_than_1e_8_btc(self) -> None:
        # Given a market bid of 100,000 KRW
        order = self.market_bid()

        # When 0.00199996 BTC fills at 50,001,000 KRW = 99,999.99996 KRW
        record(order, "t-1", qty="0.00199996", price="50001000", fee_krw="50")

        # Then the 0.00004 KRW left buys less than 1e-8 BTC, so the order is FILLED
        (event,) = order.collect_events()
        assert isinstance(event, Order.Filled)
        assert order.executed_funds_krw == D("99999.99996")
        assert order.status is OrderStatus.FILLED

    def test_market_bid_fill_spending_more_than_the_amount_is_refused(self) -> None:
        # Given a market bid of 100,000 KRW
        order = self.market_bid()

        # When 0.00200001 BTC at 50,000,000 KRW (100,000.5 KRW) is reported, it is refused
        with pytest.raises(FillExceedsOrderError) as refused:
            record(order, "t-1", qty="0.00200001", fee_krw="50")

        assert "100,000.50000000 KRW exceeds the 100,000 KRW that remains" in str(refused.value)
        assert order.collect_events() == []

    def test_market_bid_lock_shrinks_by_what_fills_cost_with_fees(self) -> None:
        # Given a market bid of 100,000 KRW locking 100,050 KRW
        order = self.market_bid()
        assert order.locked_remaining() == (D("100050.0000"), 0)

        # When 0.001 BTC fills at 50,000,000 KRW with a 25 KRW fee
        record(order, "t-1", qty="0.001", fee_krw="25")

        # Then 100,050 - 50,000 - 25 = 50,025 KRW stay locked
        assert order.locked_remaining() == (D("50025"), 0)


class TestLock:
    def test_limit_bid_lock_shrinks_in_proportion_to_executed_volume(self) -> None:
        # Given a limit bid of 0.01 BTC at 50,000,000 locking 500,250 KRW
        order = open_order()
        assert order.locked_remaining() == (D("500250"), 0)

        # When 0.004 BTC fills (at a better price)
        record(order, "t-1", qty="0.004", price="49000000", fee_krw="98")

        # Then 0.006 x 50,025,000 = 300,150 KRW stay locked
        assert order.locked_remaining() == (D("300150"), 0)

    def test_limit_ask_locks_btc_and_releases_it_as_it_fills(self) -> None:
        order = open_order(
            terms("ask", "limit", price_krw="51000000", volume_btc="0.01"), client_order_id="a"
        )
        assert order.locked_remaining() == (0, D("0.01"))

        record(order, "t-1", qty="0.003", price="51000000", fee_krw="76.5")

        assert order.locked_remaining() == (0, D("0.007"))


class TestCancel:
    def test_cancel_of_partial_order_keeps_its_fills_and_frees_its_lock(self) -> None:
        # Given 0.004 of 0.01 BTC filled
        order = open_order()
        record(order, "t-1", qty="0.004", fee_krw="100")
        order.collect_events()

        # When the order is cancelled
        order.cancel("strategy exit", cause(4))

        # Then one Cancelled event; the fills stay and nothing is locked any more
        (event,) = order.collect_events()
        assert isinstance(event, Order.Cancelled)
        assert event.reason == "strategy exit"
        assert order.status is OrderStatus.CANCELLED
        assert order.executed_volume_btc == D("0.004")
        assert order.fill_of("t-1") == Fill("t-1", D("50000000"), D("0.004"), D("100"))
        assert order.average_price_krw == D("50000000")
        assert order.locked_remaining() == (0, 0)
        assert order.close_reason == "strategy exit"

    def test_cancel_with_blank_reason_is_refused_and_records_nothing(self) -> None:
        order = open_order()

        with pytest.raises(MissingTextError, match="cancel reason"):
            order.cancel("", cause(4))

        assert order.collect_events() == []
        assert order.status is OrderStatus.OPEN

    def test_cancel_of_new_order_is_refused_as_illegal_transition(self) -> None:
        order = placed_order()

        with pytest.raises(IllegalOrderTransitionError, match="in status NEW cannot cancel"):
            order.cancel("too slow", cause(4))

        assert order.collect_events() == []


class TestReject:
    @pytest.mark.parametrize("source", ["risk", "exchange", "submission"])
    def test_reject_new_order_records_rejected_and_fails_it(self, source: str) -> None:
        order = placed_order()

        order.reject("insufficient funds", source, cause(2))

        (event,) = order.collect_events()
        assert isinstance(event, Order.Rejected)
        assert (event.reason, event.rejected_by) == ("insufficient funds", source)
        assert order.status is OrderStatus.FAILED
        assert order.close_reason == f"{source}: insufficient funds"
        assert order.locked_remaining() == (0, 0)

    def test_reject_by_unknown_source_is_refused_naming_the_sources(self) -> None:
        order = placed_order()

        with pytest.raises(InvalidOrderShapeError) as refused:
            order.reject("no", "strategy", cause(2))

        assert "rejected_by 'strategy' is not one of: exchange, risk, submission" in str(
            refused.value
        )
        assert order.collect_events() == []
        assert order.status is OrderStatus.NEW

    def test_reject_of_open_order_is_refused_as_illegal_transition(self) -> None:
        order = open_order()

        with pytest.raises(IllegalOrderTransitionError, match="in status OPEN cannot reject"):
            order.reject("late", "exchange", cause(3))

        assert order.collect_events() == []


def test_describe_gives_the_order_as_plain_values() -> None:
    order = open_order()
    record(order, "t-1", qty="0.004")

    described = order.describe()

    assert described["status"] == "PARTIAL"
    assert described["order_id"] == str(order_id("bid-1"))
    assert described["executed_volume_btc"] == D("0.004")
    assert described["paid_fee_krw"] == D("100")
    assert described["fills"] == 1
    assert described["version"] == 3
