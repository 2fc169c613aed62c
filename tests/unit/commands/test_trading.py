"""The Trading application on the in-memory store: refusals append nothing, batches are atomic,
state reloads from the log, and lost write races are retried a bounded number of times.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent

from commands.errors import ConcurrencyConflictError, NotFoundError, UnknownOrderError
from commands.messages import PlaceOrder
from commands.trading import Trading
from domain.errors import (
    ConflictingFillError,
    DailyLossLimitReachedError,
    DomainError,
    DuplicateOrderError,
    ExposureLimitError,
    IllegalOrderTransitionError,
    InsufficientCashError,
    InsufficientPositionError,
    InvalidAmountError,
    InvalidOrderShapeError,
    InvalidRiskLimitError,
    MissingTextError,
    OrderAboveMaximumTotalError,
    OrderBelowMinimumTotalError,
    OrderNotionalLimitError,
    PriceOffTickError,
    TradingHaltedError,
    TradingReducingError,
    TradingStateUnchangedError,
    UnknownMarketError,
    UnknownStrategyError,
    UnknownTradingStateError,
)
from domain.ids import order_id, portfolio_id
from domain.orders.order import Order
from domain.orders.status import OrderStatus
from domain.portfolio.ledger import Portfolio
from tests.at_once import errors_at_once
from tests.builders import (
    accept_order,
    allocate_capital,
    bus_names_since,
    cancel_order,
    cause,
    change_trading_state,
    last_notification_id,
    place_limit_ask,
    place_limit_bid,
    place_market_ask,
    place_market_bid,
    record_fill,
    reject_order,
    set_risk_limits,
    trading_app,
)

D = Decimal


def filled_bid(app: Trading, client_order_id: str = "bid-1", qty: str = "0.01") -> UUID:
    """Place, accept and completely fill a limit bid at 50,000,000 KRW."""
    placed = app.place_order(place_limit_bid(client_order_id, volume_btc=qty))
    app.accept_order(accept_order(placed))
    app.record_fill(record_fill(placed, trade_id=f"{client_order_id}-t", qty_btc=qty))
    return placed


def open_bid(app: Trading, client_order_id: str = "bid-1") -> UUID:
    placed = app.place_order(place_limit_bid(client_order_id))
    app.accept_order(accept_order(placed))
    return placed


# Bad input: every refusal names the offending value and the rule, and appends nothing.
BAD_ORDERS = [
    ("unknown KRW market", place_limit_bid(market="KRW-DOGE"), UnknownMarketError,
     ["'KRW-DOGE'", "not traded by this ledger", "KRW-BTC"]),
    ("bare asset", place_limit_bid(market="BTC"), UnknownMarketError,
     ["'BTC'", "QUOTE-BASE"]),
    ("lower-case market", place_limit_bid(market="krw-btc"), UnknownMarketError,
     ["'krw-btc'", "QUOTE-BASE"]),
    ("negative volume", place_limit_bid(volume_btc="-0.01"), InvalidAmountError,
     ["volume -0.01 BTC", "must be greater than 0"]),
    ("zero volume", place_limit_bid(volume_btc="0"), InvalidAmountError,
     ["volume 0 BTC", "must be greater than 0"]),
    ("zero price", place_limit_bid(price_krw="0"), InvalidAmountError,
     ["limit price 0 KRW", "must be greater than 0"]),
    ("negative price", place_limit_ask(price_krw="-51000000"), InvalidAmountError,
     ["limit price -51000000 KRW", "must be greater than 0"]),
    ("zero amount", place_market_bid(amount_krw="0"), InvalidAmountError,
     ["amount 0 KRW", "must be greater than 0"]),
    ("volume finer than a satoshi", place_limit_bid(volume_btc="0.000000001"),
     InvalidAmountError, ["volume 0.000000001 BTC", "8 decimal places"]),
    ("price off the tick grid", place_limit_bid(price_krw="50000500"), PriceOffTickError,
     ["50,000,500 KRW", "tick size 1,000 KRW", "50,000,000 and 50,001,000"]),
    ("limit total below minimum", place_limit_bid(price_krw="49000000", volume_btc="0.0001"),
     OrderBelowMinimumTotalError,
     ["order total 4,900", "0.0001 BTC x 49,000,000 KRW", "below the minimum 5,000 KRW"]),
    ("market bid below minimum", place_market_bid(amount_krw="4999"),
     OrderBelowMinimumTotalError, ["order total 4,999 KRW", "below the minimum 5,000 KRW"]),
    ("market ask below minimum",
     place_market_ask(volume_btc="0.0001", reference_price_krw="49000000"),
     OrderBelowMinimumTotalError, ["order total 4,900", "reference 49,000,000 KRW"]),
    ("total above maximum", place_limit_bid(volume_btc="21"), OrderAboveMaximumTotalError,
     ["order total 1,050,000,000 KRW", "above the maximum 1,000,000,000 KRW"]),
    ("float price", place_limit_bid(price_krw=50000000.0), InvalidAmountError,  # type: ignore[arg-type]
     ["limit price 50000000.0", "was given as a float"]),
    ("float volume", place_limit_bid(volume_btc=0.01), InvalidAmountError,  # type: ignore[arg-type]
     ["volume 0.01", "was given as a float"]),
    ("float amount", place_market_bid(amount_krw=100000.0), InvalidAmountError,  # type: ignore[arg-type]
     ["amount 100000.0", "was given as a float"]),
    ("limit without price", place_limit_bid(price_krw=None), InvalidOrderShapeError,
     ["a limit bid needs a price"]),
    ("market bid with volume", place_market_bid(volume_btc="0.01"), InvalidOrderShapeError,
     ["a market bid takes only amount", "a volume (0.01) was given"]),
    ("market ask without reference", place_market_ask(reference_price_krw=None),
     InvalidOrderShapeError, ["needs a reference price", "5,000 KRW minimum"]),
    ("unknown side",
     PlaceOrder("x-1", "alpha", "KRW-BTC", "hold", "limit", cause(1), "50000000", "0.01"),
     InvalidOrderShapeError, ["order side 'hold' is not one of: bid, ask"]),
    ("unknown type",
     PlaceOrder("x-1", "alpha", "KRW-BTC", "bid", "stop", cause(1), "50000000", "0.01"),
     InvalidOrderShapeError, ["order type 'stop' is not one of: limit, market"]),
    ("cash short", place_limit_bid(volume_btc="0.2"), InsufficientCashError,
     ["limit bid costs 10,005,000", "available cash 10,000,000 KRW"]),
    ("market bid above cash", place_market_bid(amount_krw="10000001"), InsufficientCashError,
     ["market bid of 10,000,001 KRW costs 10,005,001.0005 KRW", "available cash 10,000,000 KRW"]),
    ("selling BTC not held", place_limit_ask(volume_btc="0.01"), InsufficientPositionError,
     ["ask of 0.01 BTC exceeds the 0 BTC", "strategy alpha holds"]),
    ("strategy without capital", place_limit_bid(strategy_id="gamma"), UnknownStrategyError,
     ["strategy 'gamma' has no capital allocated"]),
    ("blank client order id", place_limit_bid(client_order_id=" "), MissingTextError,
     ["client order id ' ' must be a non-empty text"]),
]  # fmt: skip


class TestPlaceOrderRefusals:
    @pytest.mark.parametrize(
        ("command", "error", "fragments"),
        [pytest.param(*case[1:], id=case[0]) for case in BAD_ORDERS],
    )
    def test_place_order_with_bad_input_is_refused_naming_value_and_rule_and_appends_nothing(
        self,
        trading: Trading,
        command: PlaceOrder,
        error: type[DomainError],
        fragments: list[str],
    ) -> None:
        before = last_notification_id(trading)

        with pytest.raises(error) as refused:
            trading.place_order(command)

        for fragment in fragments:
            assert fragment in str(refused.value)
        assert last_notification_id(trading) == before

    def test_place_order_before_any_capital_is_refused_and_appends_nothing(
        self, bare_trading: Trading
    ) -> None:
        with pytest.raises(UnknownStrategyError, match="allocate capital first"):
            bare_trading.place_order(place_limit_bid())

        assert last_notification_id(bare_trading) == 0

    def test_place_order_with_used_client_order_id_is_refused_and_appends_nothing(
        self, trading: Trading
    ) -> None:
        # Given order bid-1 in the log
        first = trading.place_order(place_limit_bid("bid-1"))
        before = last_notification_id(trading)

        # When another order arrives with client order id bid-1
        with pytest.raises(DuplicateOrderError) as refused:
            trading.place_order(place_limit_bid("bid-1", price_krw="49000000", minute=5))

        # Then it is refused naming the client order id and the order that used it
        assert "client order id 'bid-1' was already used by order" in str(refused.value)
        assert str(first) in str(refused.value)
        assert last_notification_id(trading) == before
        assert trading.get_order(first).price_krw == D("50000000")

    def test_place_order_retried_after_its_lock_took_the_cash_is_refused_as_duplicate(
        self, bare_trading: Trading
    ) -> None:
        bare_trading.allocate_capital(allocate_capital("500250"))
        bare_trading.place_order(place_limit_bid("bid-1"))

        with pytest.raises(DuplicateOrderError):
            bare_trading.place_order(place_limit_bid("bid-1"))

    def test_place_order_duplicate_with_a_single_attempt_is_refused_as_duplicate(self) -> None:
        app = trading_app(conflict_retries=1)
        app.allocate_capital(allocate_capital())
        app.place_order(place_limit_bid("bid-1"))

        with pytest.raises(DuplicateOrderError):
            app.place_order(place_limit_bid("bid-1"))

    def test_ask_of_btc_already_offered_is_refused_and_appends_nothing(
        self, trading: Trading
    ) -> None:
        # Given 0.01 BTC bought, 0.006 BTC of it offered
        filled_bid(trading)
        trading.place_order(place_limit_ask("ask-1", volume_btc="0.006"))
        before = last_notification_id(trading)

        # When another ask offers 0.006 BTC
        with pytest.raises(InsufficientPositionError) as refused:
            trading.place_order(place_limit_ask("ask-2", volume_btc="0.006"))

        # Then only 0.004 BTC was free
        assert "ask of 0.006 BTC exceeds the 0.004 BTC" in str(refused.value)
        assert last_notification_id(trading) == before


class TestPlaceOrder:
    def test_place_limit_bid_appends_reservation_and_order_and_locks_500_250_krw(
        self, trading: Trading
    ) -> None:
        # Given 10,000,000 KRW allocated
        before = last_notification_id(trading)

        # When a limit bid of 0.01 BTC at 50,000,000 KRW is placed
        placed = trading.place_order(place_limit_bid("bid-1"))

        # Then the lock of 0.01 x 50,000,000 x 1.0005 KRW and the NEW order are appended
        assert placed == order_id("bid-1")
        assert bus_names_since(trading, before) == ["ledger.cash.reserved", "order.placed"]
        order = trading.get_order(placed)
        assert order.status is OrderStatus.NEW
        assert order.locked_remaining() == (D("500250"), 0)
        portfolio = trading.get_portfolio()
        assert portfolio is not None
        assert portfolio.book("alpha").reserved_krw == D("500250")

    def test_place_orders_records_every_order_of_the_batch_in_one_transaction(
        self, trading: Trading
    ) -> None:
        # Given 10,000,000 KRW allocated
        before = last_notification_id(trading)

        # When a limit bid and a market bid are placed together
        placed = trading.place_orders(
            [place_limit_bid("bid-1"), place_market_bid("bid-2", amount_krw="100000")]
        )

        # Then both locks and both orders are appended, the ledger's events first
        assert placed == [order_id("bid-1"), order_id("bid-2")]
        assert bus_names_since(trading, before) == [
            "ledger.cash.reserved",
            "ledger.cash.reserved",
            "order.placed",
            "order.placed",
        ]
        portfolio = trading.get_portfolio()
        assert portfolio is not None
        assert portfolio.book("alpha").reserved_krw == D("500250") + D("100050")

    @pytest.mark.parametrize(
        ("batch", "error"),
        [
            ([place_limit_bid("bid-1"), place_limit_bid("bid-2", price_krw="50000500")],
             PriceOffTickError),
            ([place_limit_bid("bid-1", volume_btc="0.1"),
              place_limit_bid("bid-2", volume_btc="0.1")], InsufficientCashError),
            ([place_limit_bid("bid-1"), place_limit_bid("bid-1", price_krw="49000000")],
             DuplicateOrderError),
            ([place_limit_bid("bid-1"), place_limit_ask("ask-1")], InsufficientPositionError),
        ],
        ids=["off-tick", "cash-short-together", "duplicate-in-batch", "ask-unheld"],
    )  # fmt: skip
    def test_place_orders_with_one_bad_order_appends_nothing_for_any(
        self, trading: Trading, batch: list[PlaceOrder], error: type[DomainError]
    ) -> None:
        before = last_notification_id(trading)

        with pytest.raises(error):
            trading.place_orders(batch)

        assert last_notification_id(trading) == before
        with pytest.raises(UnknownOrderError):
            trading.get_order(order_id("bid-1"))

    def test_place_orders_of_an_empty_batch_appends_nothing(self, trading: Trading) -> None:
        before = last_notification_id(trading)

        assert trading.place_orders([]) == []
        assert last_notification_id(trading) == before


UNKNOWN = order_id("never-placed")
ORDER_COMMANDS: dict[str, Callable[[Trading, UUID], Any]] = {
    "accept": lambda app, oid: app.accept_order(accept_order(oid)),
    "fill": lambda app, oid: app.record_fill(record_fill(oid)),
    "cancel": lambda app, oid: app.cancel_order(cancel_order(oid)),
    "reject": lambda app, oid: app.reject_order(reject_order(oid)),
}


class TestOrderCommandRefusals:
    @pytest.mark.parametrize("name", list(ORDER_COMMANDS))
    def test_command_for_unknown_order_id_is_refused_naming_it_and_appends_nothing(
        self, trading: Trading, name: str
    ) -> None:
        before = last_notification_id(trading)

        with pytest.raises(UnknownOrderError) as refused:
            ORDER_COMMANDS[name](trading, UNKNOWN)

        assert isinstance(refused.value, NotFoundError)
        assert f"order {UNKNOWN} does not exist" in str(refused.value)
        assert last_notification_id(trading) == before

    def test_command_for_an_id_of_another_aggregate_is_refused_as_unknown_order(
        self, trading: Trading
    ) -> None:
        with pytest.raises(UnknownOrderError):
            trading.cancel_order(cancel_order(portfolio_id("main")))

    def test_cancel_of_new_order_is_refused_as_illegal_transition_and_appends_nothing(
        self, trading: Trading
    ) -> None:
        placed = trading.place_order(place_limit_bid())
        before = last_notification_id(trading)

        with pytest.raises(IllegalOrderTransitionError, match="in status NEW cannot cancel"):
            trading.cancel_order(cancel_order(placed))

        assert last_notification_id(trading) == before
        assert trading.get_order(placed).status is OrderStatus.NEW

    @pytest.mark.parametrize(
        ("figures", "fragment"),
        [
            ({"qty_btc": 0.004}, "fill quantity 0.004 was given as a float"),
            ({"price_krw": 50000000.0}, "fill price 50000000.0 was given as a float"),
            ({"fee_krw": 100.0}, "fill fee 100.0 was given as a float"),
            ({"qty_btc": "-0.004"}, "fill quantity -0.004 BTC must be greater than 0"),
            ({"qty_btc": "0.02"}, "0.02 BTC exceeds the 0.01 BTC that remains"),
        ],
    )
    def test_fill_with_bad_figure_is_refused_naming_it_and_appends_nothing(
        self, trading: Trading, figures: dict[str, Any], fragment: str
    ) -> None:
        placed = open_bid(trading)
        before = last_notification_id(trading)

        with pytest.raises(DomainError) as refused:
            trading.record_fill(record_fill(placed, **figures))

        assert fragment in str(refused.value)
        assert last_notification_id(trading) == before

    def test_fill_with_known_trade_id_and_other_figures_is_refused_and_appends_nothing(
        self, trading: Trading
    ) -> None:
        placed = open_bid(trading)
        trading.record_fill(record_fill(placed, trade_id="t-1", qty_btc="0.004"))
        before = last_notification_id(trading)

        with pytest.raises(ConflictingFillError, match="trade t-1 was recorded"):
            trading.record_fill(record_fill(placed, trade_id="t-1", qty_btc="0.005"))

        assert last_notification_id(trading) == before

    def test_fill_repeated_with_same_trade_id_returns_false_and_appends_nothing(
        self, trading: Trading
    ) -> None:
        placed = open_bid(trading)
        assert trading.record_fill(record_fill(placed, trade_id="t-1", qty_btc="0.004"))
        before = last_notification_id(trading)

        assert not trading.record_fill(record_fill(placed, trade_id="t-1", qty_btc="0.004"))
        assert last_notification_id(trading) == before

    def test_reject_by_unknown_source_is_refused_and_appends_nothing(
        self, trading: Trading
    ) -> None:
        placed = trading.place_order(place_limit_bid())
        before = last_notification_id(trading)

        with pytest.raises(InvalidOrderShapeError, match="rejected_by 'broker'"):
            trading.reject_order(reject_order(placed, rejected_by="broker"))

        assert last_notification_id(trading) == before


class TestOtherCommandRefusals:
    def test_allocate_float_capital_is_refused_and_appends_nothing(
        self, bare_trading: Trading
    ) -> None:
        with pytest.raises(InvalidAmountError, match="capital 1000000.0 was given as a float"):
            bare_trading.allocate_capital(allocate_capital(1000000.0))  # type: ignore[arg-type]

        assert last_notification_id(bare_trading) == 0

    def test_allocate_negative_capital_is_refused_and_appends_nothing(
        self, trading: Trading
    ) -> None:
        before = last_notification_id(trading)

        with pytest.raises(InvalidAmountError, match="capital -5 KRW must be greater than 0"):
            trading.allocate_capital(allocate_capital("-5"))

        assert last_notification_id(trading) == before

    def test_set_risk_limit_out_of_range_is_refused_and_appends_nothing(
        self, trading: Trading
    ) -> None:
        before = last_notification_id(trading)

        with pytest.raises(InvalidRiskLimitError, match="max drawdown 2 must be a fraction"):
            trading.set_risk_limits(set_risk_limits(max_drawdown="2"))

        assert last_notification_id(trading) == before

    def test_change_to_unknown_trading_state_is_refused_naming_the_states(
        self, trading: Trading
    ) -> None:
        before = last_notification_id(trading)

        with pytest.raises(UnknownTradingStateError) as refused:
            trading.change_trading_state(change_trading_state("PAUSED"))

        assert "trading state 'PAUSED' is not one of: ACTIVE, REDUCING, HALTED" in str(
            refused.value
        )
        assert last_notification_id(trading) == before

    def test_change_to_current_trading_state_is_refused_and_appends_nothing(
        self, trading: Trading
    ) -> None:
        before = last_notification_id(trading)

        with pytest.raises(TradingStateUnchangedError, match="already ACTIVE"):
            trading.change_trading_state(change_trading_state("ACTIVE"))

        assert last_notification_id(trading) == before


class TestFillsThroughTheApplication:
    def test_fill_appends_order_position_and_ledger_events_in_one_transaction(
        self, trading: Trading
    ) -> None:
        placed = open_bid(trading)
        before = last_notification_id(trading)

        assert trading.record_fill(record_fill(placed, trade_id="t-1", qty_btc="0.004"))

        assert bus_names_since(trading, before) == [
            "order.partially_filled",
            "position.opened",
            "position.changed",
            "ledger.fill.settled",
        ]

    def test_cancel_of_partial_bid_keeps_fills_and_releases_only_the_remainder(
        self, trading: Trading
    ) -> None:
        # Given a bid of 0.01 BTC at 50,000,000 locking 500,250 KRW, 0.004 BTC filled (fee 100)
        placed = open_bid(trading)
        trading.record_fill(record_fill(placed, trade_id="t-1", qty_btc="0.004"))
        before = last_notification_id(trading)

        # When it is cancelled
        trading.cancel_order(cancel_order(placed))

        # Then only the 0.006 x 50,025,000 = 300,150 KRW still locked is released
        events = bus_names_since(trading, before)
        assert events == ["order.cancelled", "ledger.reservation.released"]
        order = trading.get_order(placed)
        assert order.status is OrderStatus.CANCELLED
        assert order.executed_volume_btc == D("0.004")
        portfolio = trading.get_portfolio()
        assert portfolio is not None
        book = portfolio.book("alpha")
        assert book.reserved_krw == 0
        assert book.cash_krw == D("10000000") - D("200000") - D("100")
        position = trading.get_position("alpha", "KRW-BTC")
        assert position is not None
        assert position.qty_btc == D("0.004")

    def test_reject_of_new_bid_releases_its_whole_lock(self, trading: Trading) -> None:
        placed = trading.place_order(place_limit_bid())

        trading.reject_order(reject_order(placed))

        portfolio = trading.get_portfolio()
        assert portfolio is not None
        assert portfolio.book("alpha").reserved_krw == 0
        assert portfolio.book("alpha").cash_krw == D("10000000")

    def test_round_trip_realises_pnl_at_average_cost_net_of_fees(self, trading: Trading) -> None:
        # Given 0.01 BTC bought at 50,000,000 KRW (fee 250)
        filled_bid(trading)

        # When it is sold at 51,000,000 KRW (fee 255)
        sold = trading.place_order(place_limit_ask("ask-1", volume_btc="0.01"))
        trading.accept_order(accept_order(sold, exchange_order_id="upbit-uuid-2"))
        trading.record_fill(record_fill(sold, trade_id="t-9", price_krw="51000000", qty_btc="0.01"))

        # Then 10,000 KRW is realised, 505 KRW of fees paid, and the position is closed
        portfolio = trading.get_portfolio()
        assert portfolio is not None
        book = portfolio.book("alpha")
        assert (book.realised_pnl_krw, book.fees_krw) == (D("10000"), D("505"))
        assert book.cash_krw == D("10000000") + D("10000") - D("505")
        assert portfolio.daily_net_pnl("2025-01-06") == D("9495")
        position = trading.get_position("alpha", "KRW-BTC")
        assert position is not None
        assert (position.qty_btc, position.cost_basis_krw) == (0, 0)

    def test_market_bid_of_all_available_cash_is_refused_because_its_fee_does_not_fit(
        self, bare_trading: Trading
    ) -> None:
        # Given 100,000 KRW
        bare_trading.allocate_capital(allocate_capital("100000"))
        before = last_notification_id(bare_trading)

        # When a market bid of all 100,000 KRW is placed, then Upbit's lock of amount + fee
        # does not fit and the order is refused, appending nothing
        with pytest.raises(InsufficientCashError, match="costs 100,050.0000 KRW"):
            bare_trading.place_order(place_market_bid(amount_krw="100000"))
        assert last_notification_id(bare_trading) == before

    def test_market_bid_sized_with_its_fee_records_its_full_fill(
        self, bare_trading: Trading
    ) -> None:
        # Given 100,050 KRW and a market bid of 100,000 KRW (amount + fee fits exactly)
        bare_trading.allocate_capital(allocate_capital("100050"))
        placed = bare_trading.place_order(place_market_bid(amount_krw="100000"))
        bare_trading.accept_order(accept_order(placed))

        # When the exchange fills all of it at the KRW-market fee
        bare_trading.record_fill(record_fill(placed, price_krw="50000000", qty_btc="0.002"))

        # Then the order is filled and the strategy's cash is exactly spent
        assert bare_trading.get_order(placed).status is OrderStatus.FILLED
        book = bare_trading.get_portfolio().book("alpha")
        assert (book.cash_krw, book.reserved_krw) == (D(0), D(0))


class TestRiskThroughTheApplication:
    def test_halted_trading_refuses_orders_and_appends_nothing(self, trading: Trading) -> None:
        trading.change_trading_state(change_trading_state("HALTED"))
        before = last_notification_id(trading)

        with pytest.raises(TradingHaltedError):
            trading.place_order(place_limit_bid())

        assert last_notification_id(trading) == before

    def test_reducing_trading_refuses_bids_and_allows_asks(self, trading: Trading) -> None:
        filled_bid(trading)
        trading.change_trading_state(change_trading_state("REDUCING"))

        with pytest.raises(TradingReducingError):
            trading.place_order(place_limit_bid("bid-2"))
        sold = trading.place_order(place_limit_ask("ask-1"))

        assert trading.get_order(sold).status is OrderStatus.NEW

    def test_order_above_notional_limit_is_refused(self, trading: Trading) -> None:
        trading.set_risk_limits(set_risk_limits(max_order_krw="400000"))

        with pytest.raises(OrderNotionalLimitError, match="order notional 500,000"):
            trading.place_order(place_limit_bid())

    def test_exposure_counts_cost_basis_held_and_krw_reserved(self, trading: Trading) -> None:
        # Given a limit of 1,100,000 KRW, 500,000 KRW held and 500,250 KRW reserved
        trading.set_risk_limits(set_risk_limits(max_exposure_krw="1100000"))
        filled_bid(trading, "bid-1")
        trading.place_order(place_limit_bid("bid-2"))

        # When a bid of 100,000 KRW more arrives
        with pytest.raises(ExposureLimitError) as refused:
            trading.place_order(place_market_bid("bid-3", amount_krw="100000"))

        # Then the exposure would be 500,000 + 500,250 + 100,000 KRW
        assert "exposure would be 1,100,250" in str(refused.value)
        assert "(1,000,250.000000 held or reserved + 100,000 for this order)" in str(refused.value)

    def test_daily_loss_limit_refuses_bids_until_the_next_session_at_09_00_kst(
        self, trading: Trading
    ) -> None:
        # Given a daily loss limit of 10,000 KRW and a 10,000 KRW loss (plus fees) on day 0
        trading.set_risk_limits(set_risk_limits(daily_loss_krw="10000"))
        filled_bid(trading)
        sold = trading.place_order(place_limit_ask("ask-1", price_krw="49000000"))
        trading.accept_order(accept_order(sold, exchange_order_id="upbit-uuid-2"))
        trading.record_fill(record_fill(sold, trade_id="t-9", price_krw="49000000", qty_btc="0.01"))

        # When a bid arrives the same trading day, it is refused
        with pytest.raises(DailyLossLimitReachedError, match="trading day 2025-01-06"):
            trading.place_order(place_limit_bid("bid-2", minute=60 * 23 + 59))

        # And at 09:00 KST the next day (a new session) it is accepted
        placed = trading.place_order(place_limit_bid("bid-3", day=1))
        assert trading.get_order(placed).status is OrderStatus.NEW


def restart(app: Trading) -> Trading:
    """Start a new application on a copy of the stored events of `app` (bytes as stored)."""
    restarted = trading_app()
    stored = app.recorder.select_notifications(start=1, limit=10_000)
    restarted.recorder.insert_events(
        [StoredEvent(s.originator_id, s.originator_version, s.topic, s.state) for s in stored]
    )
    return restarted


class TestReload:
    def scenario(self, app: Trading) -> list[UUID]:
        filled = filled_bid(app, "bid-1")
        partial = open_bid(app, "bid-2")
        app.record_fill(record_fill(partial, trade_id="t-2", qty_btc="0.003"))
        cancelled = open_bid(app, "bid-3")
        app.cancel_order(cancel_order(cancelled))
        sold = app.place_order(place_limit_ask("ask-1", volume_btc="0.005"))
        app.set_risk_limits(set_risk_limits(max_order_krw="9000000"))
        app.change_trading_state(change_trading_state("REDUCING"))
        return [filled, partial, cancelled, sold]

    def test_new_application_on_the_same_log_reloads_identical_state(
        self, trading: Trading
    ) -> None:
        # Given a log with orders in several states, a position, limits and a trading state
        order_ids = self.scenario(trading)

        # When a new application starts on a copy of the stored events
        restarted = restart(trading)

        # Then it reloads the same orders, ledger, position and risk record
        for oid in order_ids:
            assert restarted.get_order(oid).describe() == trading.get_order(oid).describe()
            assert restarted.get_order(oid).fills == trading.get_order(oid).fills
        old, new = trading.get_portfolio(), restarted.get_portfolio()
        assert old is not None and new is not None
        assert new.books() == old.books()
        assert new.reserved_btc == old.reserved_btc
        assert new.daily_net_pnl_krw == old.daily_net_pnl_krw
        old_position = trading.get_position("alpha", "KRW-BTC")
        new_position = restarted.get_position("alpha", "KRW-BTC")
        assert old_position is not None and new_position is not None
        assert vars(new_position) == vars(old_position)
        old_risk, new_risk = trading.get_risk_limits(), restarted.get_risk_limits()
        assert old_risk is not None and new_risk is not None
        assert (new_risk.state, new_risk.limits) == (old_risk.state, old_risk.limits)

    def test_restarted_application_still_knows_trade_ids_and_client_order_ids(
        self, trading: Trading
    ) -> None:
        # Given an application restarted on the log of a trading session
        order_ids = self.scenario(trading)
        restarted = restart(trading)
        before = last_notification_id(restarted)

        # When a recorded trade arrives again, trading resumes, and a used client id comes back
        repeated = restarted.record_fill(record_fill(order_ids[1], trade_id="t-2", qty_btc="0.003"))
        restarted.change_trading_state(change_trading_state("ACTIVE"))
        with pytest.raises(DuplicateOrderError):
            restarted.place_order(place_limit_bid("bid-1"))

        # Then only the resumption is appended
        assert repeated is False
        assert bus_names_since(restarted, before) == ["risk.trading.resumed"]

    def test_order_reloaded_from_its_snapshot_equals_the_fold_of_its_events(
        self, trading: Trading
    ) -> None:
        # Given an order with more than 100 events, so a snapshot was taken at version 100
        placed = open_bid(trading)
        for n in range(99):
            trading.record_fill(record_fill(placed, trade_id=f"t-{n}", qty_btc="0.0001"))
        assert trading.snapshots is not None
        snapshots = list(trading.snapshots.get(placed))
        assert [s.originator_version for s in snapshots] == [100]

        # When it is loaded (from the snapshot) and folded from its events alone
        loaded = trading.get_order(placed)
        folded: Order | None = None
        for event in trading.events.get(placed):
            folded = event.mutate(folded)  # type: ignore[attr-defined]
        assert folded is not None

        # Then both give the same order
        assert loaded.describe() == folded.describe()
        assert loaded.fills == folded.fills
        assert loaded.status is OrderStatus.PARTIAL
        assert loaded.executed_volume_btc == D("0.0099")

    def test_ledger_snapshot_taken_by_a_batch_crossing_the_interval_equals_the_fold(
        self, bare_trading: Trading
    ) -> None:
        # Given a ledger at version 2 (opened, capital allocated)
        bare_trading.allocate_capital(allocate_capital("100000000"))

        # When one batch of 120 orders takes it past version 100 in a single save
        bare_trading.place_orders([place_limit_bid(f"bid-{n}") for n in range(120)])

        # Then one snapshot is taken, at the version the save reached, equal to the fold
        portfolio = bare_trading.get_portfolio()
        assert portfolio is not None and bare_trading.snapshots is not None
        snapshots = list(bare_trading.snapshots.get(portfolio.id))
        assert [s.originator_version for s in snapshots] == [122] == [portfolio.version]
        folded: Portfolio | None = None
        for event in bare_trading.events.get(portfolio.id):
            folded = event.mutate(folded)  # type: ignore[attr-defined]
        assert folded is not None
        assert vars(folded) == vars(portfolio)
        assert portfolio.book("alpha").reserved_krw == 120 * D("500250")


class RacingTrading(Trading):
    """Before each of its first `losses` saves, a rival writer allocates 1 KRW to 'rival'."""

    def __init__(self, *, losses: int, **kwargs: Any) -> None:
        super().__init__({"PERSISTENCE_MODULE": "eventsourcing.popo"}, **kwargs)
        self.losses = losses
        self.saves = 0

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        self.saves += 1
        if self.saves <= self.losses:
            rival = self.get_portfolio()
            assert rival is not None
            rival.allocate("rival", "1", cause(30))
            super().save(rival)
        return super().save(*objs, **kwargs)


class ConflictingTrading(Trading):
    """A fake store race: the first `conflicts` saves raise the library's IntegrityError."""

    def __init__(self, *, conflicts: int, **kwargs: Any) -> None:
        super().__init__({"PERSISTENCE_MODULE": "eventsourcing.popo"}, **kwargs)
        self.conflicts = conflicts
        self.attempts = 0

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        self.attempts += 1
        if self.attempts <= self.conflicts:
            raise IntegrityError("another writer recorded this version first")
        return super().save(*objs, **kwargs)


def prepared(app: Trading) -> dict[str, Callable[[], Any]]:
    """Give the app an OPEN bid and a NEW bid; return one command per use case."""
    app.allocate_capital(allocate_capital())
    open_id = open_bid(app, "bid-1")
    new_id = app.place_order(place_limit_bid("bid-2"))
    return {
        "allocate": lambda: app.allocate_capital(allocate_capital("1000")),
        "place": lambda: app.place_order(place_limit_bid("bid-3")),
        "accept": lambda: app.accept_order(accept_order(new_id)),
        "fill": lambda: app.record_fill(record_fill(open_id, qty_btc="0.004")),
        "cancel": lambda: app.cancel_order(cancel_order(open_id)),
        "reject": lambda: app.reject_order(reject_order(new_id)),
        "limits": lambda: app.set_risk_limits(set_risk_limits(max_order_krw="1000000")),
        "state": lambda: app.change_trading_state(change_trading_state("HALTED")),
    }


USE_CASES = ["allocate", "place", "accept", "fill", "cancel", "reject", "limits", "state"]


class TestConcurrency:
    def test_place_order_that_lost_a_real_race_is_retried_on_fresh_state(self) -> None:
        # Given an application whose first save loses to a rival writer of the same ledger
        app = RacingTrading(losses=0)
        app.allocate_capital(allocate_capital())
        app.saves, app.losses = 0, 1
        before = last_notification_id(app)

        # When an order is placed
        placed = app.place_order(place_limit_bid())

        # Then the second attempt recorded it once, on top of the rival's allocation
        assert app.saves == 2
        assert bus_names_since(app, before) == [
            "ledger.capital.allocated",
            "ledger.cash.reserved",
            "order.placed",
        ]
        portfolio = app.get_portfolio()
        assert portfolio is not None
        assert portfolio.book("rival").cash_krw == D("1")
        assert portfolio.book("alpha").reserved_krw == D("500250")
        assert app.get_order(placed).version == 1

    @pytest.mark.parametrize("use_case", USE_CASES)
    def test_command_succeeds_when_conflicts_are_followed_by_a_clean_attempt(
        self, use_case: str
    ) -> None:
        # Given the same state twice: one application that never conflicts, one whose next
        # two saves lose their race, with three attempts allowed
        calm = ConflictingTrading(conflicts=0, conflict_retries=3)
        calm_command = prepared(calm)[use_case]
        app = ConflictingTrading(conflicts=0, conflict_retries=3)
        command = prepared(app)[use_case]
        app.attempts, app.conflicts = 0, 2
        before = last_notification_id(app)

        # When the command runs on both
        calm_command()
        command()

        # Then the third attempt recorded exactly what the calm application recorded, once
        assert app.attempts == 3
        assert bus_names_since(app, before) == bus_names_since(calm, before)
        assert bus_names_since(app, before)

    @pytest.mark.parametrize("use_case", USE_CASES)
    def test_command_raises_concurrency_conflict_after_the_retries_are_spent_appending_nothing(
        self, use_case: str
    ) -> None:
        # Given every save of the command losing its race
        app = ConflictingTrading(conflicts=0, conflict_retries=3)
        command = prepared(app)[use_case]
        app.attempts, app.conflicts = 0, 1_000
        before = last_notification_id(app)

        # When the command runs, then it gives up after exactly the bounded number of attempts
        with pytest.raises(ConcurrencyConflictError) as gave_up:
            command()
        assert app.attempts == 3
        assert "other writers changed the same records 3 times in a row" in str(gave_up.value)
        assert "nothing was recorded" in str(gave_up.value)

        # And nothing was appended
        assert last_notification_id(app) == before

    def test_conflict_retries_of_zero_still_make_one_attempt(self) -> None:
        app = ConflictingTrading(conflicts=1_000, conflict_retries=0)

        with pytest.raises(ConcurrencyConflictError):
            app.allocate_capital(allocate_capital())

        assert app.attempts == 1
        assert last_notification_id(app) == 0

    def test_threads_writing_one_account_take_turns_so_none_needs_a_retry(self) -> None:
        # Given one in-memory ledger allowing no retry, and eight threads
        app = Trading({"PERSISTENCE_MODULE": "eventsourcing.popo"}, conflict_retries=1)
        app.allocate_capital(allocate_capital("1000000000"))

        def place_five(worker: int) -> None:
            for n in range(5):
                app.place_order(place_limit_bid(f"w-{worker}-{n}"))

        # When they place orders at once
        errors = errors_at_once([lambda w=w: place_five(w) for w in range(8)], timeout_s=30)

        # Then every order was placed at its first attempt
        assert errors == []
        assert bus_names_since(app, 0).count("order.placed") == 40

    def test_a_retry_inside_an_attempt_keeps_its_own_count(self) -> None:
        # Given a ledger allowing three attempts, and an attempt that itself retries
        app = Trading({"PERSISTENCE_MODULE": "eventsourcing.popo"}, conflict_retries=3)
        calls = {"outer": 0, "inner": 0}

        def inner() -> str:
            calls["inner"] += 1
            if calls["inner"] <= 2:
                raise IntegrityError("lost to another writer")
            return "inner done"

        def outer() -> str:
            calls["outer"] += 1
            assert app.retrying(inner, "inner") == "inner done"
            if calls["outer"] == 1:
                raise IntegrityError("lost to another writer")
            return "outer done"

        # When the outer attempt loses once after its inner one lost twice
        result = app.retrying(outer, "outer")

        # Then each kept its own attempts: the inner 3 then 1, the outer 2
        assert result == "outer done"
        assert calls == {"outer": 2, "inner": 4}
