"""The Portfolio aggregate: capital per strategy, locks of open orders, fill settlement."""

from __future__ import annotations

import copy
from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.errors import (
    InsufficientCashError,
    InsufficientPositionError,
    InvalidAmountError,
    UnknownStrategyError,
)
from domain.events import Cause
from domain.ids import portfolio_id
from domain.orders.fill import Fill
from domain.orders.order import Order
from domain.orders.terms import OrderTerms
from domain.portfolio.ledger import Portfolio, StrategyCash
from tests.builders import (
    FEE_RATE,
    at,
    cause,
    fill,
    open_order,
    opened_portfolio,
    terms,
)

D = Decimal


def reserve(
    portfolio: Portfolio,
    order_terms: OrderTerms,
    *,
    held_btc: str = "0",
    strategy_id: str = "alpha",
) -> tuple[Decimal, Decimal]:
    return portfolio.reserve(
        order_id="order-1",
        strategy_id=strategy_id,
        terms=order_terms,
        fee_rate=FEE_RATE,
        held_btc=D(held_btc),
        cause=cause(1),
    )


def settle(
    portfolio: Portfolio,
    order: Order,
    fill_: Fill,
    *,
    released_krw: str = "0",
    released_btc: str = "0",
    realised_pnl_krw: str = "0",
    day: int = 0,
) -> None:
    portfolio.settle_fill(
        order=order,
        fill=fill_,
        released_krw=D(released_krw),
        released_btc=D(released_btc),
        realised_pnl_krw=D(realised_pnl_krw),
        cause=cause(3, day=day),
    )


class TestCapital:
    def test_open_ledger_is_keyed_by_account_and_holds_no_capital(self) -> None:
        portfolio = Portfolio.open(account="main", cause=cause(0))

        (opened,) = portfolio.collect_events()
        assert isinstance(opened, Portfolio.Opened)
        assert portfolio.id == portfolio_id("main")
        assert portfolio.books() == []

    def test_allocate_capital_records_it_and_adds_it_to_cash(self) -> None:
        # Given a strategy with 10,000,000 KRW
        portfolio = opened_portfolio()

        # When 2,500,000 KRW more is allocated
        portfolio.allocate("alpha", "2500000", cause(1))

        # Then one CapitalAllocated event, and the book shows the sum
        (allocated,) = portfolio.collect_events()
        assert isinstance(allocated, Portfolio.CapitalAllocated)
        assert (allocated.strategy_id, allocated.amount_krw) == ("alpha", D("2500000"))
        assert portfolio.book("alpha") == StrategyCash(
            strategy_id="alpha",
            allocated_krw=D("12500000"),
            cash_krw=D("12500000"),
            reserved_krw=D(0),
            realised_pnl_krw=D(0),
            fees_krw=D(0),
        )

    @pytest.mark.parametrize("amount", ["0", "-1", 1000.0])
    def test_allocate_non_positive_or_float_capital_is_refused(self, amount: object) -> None:
        portfolio = opened_portfolio()

        with pytest.raises(InvalidAmountError, match="capital"):
            portfolio.allocate("alpha", amount, cause(1))

        assert portfolio.collect_events() == []

    def test_book_of_strategy_without_capital_is_refused_naming_those_with_capital(
        self,
    ) -> None:
        portfolio = opened_portfolio({"alpha": "1000000", "beta": "2000000"})

        with pytest.raises(UnknownStrategyError) as refused:
            portfolio.book("gamma")

        assert "strategy 'gamma' has no capital allocated" in str(refused.value)
        assert "(strategies with capital: alpha, beta)" in str(refused.value)

    def test_books_are_listed_by_strategy_id(self) -> None:
        portfolio = opened_portfolio({"beta": "2000000", "alpha": "1000000"})

        assert [book.strategy_id for book in portfolio.books()] == ["alpha", "beta"]


class TestReserve:
    def test_limit_bid_locks_quantity_times_price_plus_fee(self) -> None:
        # Given 10,000,000 KRW
        portfolio = opened_portfolio()

        # When a limit bid of 0.01 BTC at 50,000,000 KRW reserves with the 0.05 % fee
        locked = reserve(portfolio, terms("bid", "limit", price_krw="50000000", volume_btc="0.01"))

        # Then 0.01 x 50,000,000 x 1.0005 = 500,250 KRW is locked
        (event,) = portfolio.collect_events()
        assert isinstance(event, Portfolio.CashReserved)
        assert (event.krw, event.btc) == (D("500250"), D(0))
        assert locked == (D("500250"), D(0))
        assert portfolio.book("alpha").reserved_krw == D("500250")
        assert portfolio.book("alpha").available_krw == D("9499750")
        assert portfolio.book("alpha").cash_krw == D("10000000")

    def test_limit_bid_costing_more_than_available_cash_is_refused_naming_both(self) -> None:
        portfolio = opened_portfolio({"alpha": "500000"})

        with pytest.raises(InsufficientCashError) as refused:
            reserve(portfolio, terms("bid", "limit", price_krw="50000000", volume_btc="0.01"))

        message = str(refused.value)
        assert "limit bid costs 500,250" in message
        assert "with its 0.0005 fee" in message
        assert "available cash 500,000 KRW" in message
        assert portfolio.collect_events() == []

    def test_limit_bid_costing_exactly_the_available_cash_is_accepted(self) -> None:
        portfolio = opened_portfolio({"alpha": "500250"})

        locked = reserve(portfolio, terms("bid", "limit", price_krw="50000000", volume_btc="0.01"))

        assert locked == (D("500250"), D(0))
        assert portfolio.book("alpha").available_krw == 0

    def test_market_bid_locks_its_amount_plus_fee(self) -> None:
        portfolio = opened_portfolio()

        locked = reserve(portfolio, terms("bid", "market", amount_krw="100000"))

        assert locked == (D("100050"), D(0))

    def test_market_bid_whose_fee_does_not_fit_the_available_cash_is_refused(self) -> None:
        portfolio = opened_portfolio({"alpha": "100000"})

        with pytest.raises(InsufficientCashError) as refused:
            reserve(portfolio, terms("bid", "market", amount_krw="100000"))

        assert "market bid of 100,000 KRW costs 100,050.0000 KRW with its 0.0005 fee" in str(
            refused.value
        )
        assert "available cash 100,000 KRW" in str(refused.value)
        assert portfolio.collect_events() == []

    def test_market_bid_sized_to_fit_with_its_fee_locks_at_most_the_available_cash(self) -> None:
        # Given the strategies.md sizing A = available / (1 + fee rate), whose lock
        # A x (1 + fee rate) may exceed the cash by 28-digit rounding dust (clarification 4)
        portfolio = opened_portfolio({"alpha": "100000"})
        amount = (D("100000") / D("1.0005")).quantize(D("0.00000001"))

        locked = reserve(portfolio, terms("bid", "market", amount_krw=str(amount)))

        assert locked[0] <= D("100000")
        assert D("100000") - locked[0] < D("0.0001")

    def test_ask_locks_its_volume_of_btc(self) -> None:
        portfolio = opened_portfolio()

        locked = reserve(
            portfolio,
            terms("ask", "limit", price_krw="51000000", volume_btc="0.01"),
            held_btc="0.03",
        )

        assert locked == (D(0), D("0.01"))
        assert portfolio.reserved_btc_of("alpha", "KRW-BTC") == D("0.01")
        assert portfolio.book("alpha").reserved_krw == 0

    def test_ask_of_btc_already_offered_by_another_ask_is_refused(self) -> None:
        # Given 0.03 BTC held, of which 0.02 BTC is already offered
        portfolio = opened_portfolio()
        reserve(portfolio, terms("ask", "limit", volume_btc="0.02"), held_btc="0.03")
        portfolio.collect_events()

        # When another ask offers 0.02 BTC
        with pytest.raises(InsufficientPositionError) as refused:
            reserve(portfolio, terms("ask", "limit", volume_btc="0.02"), held_btc="0.03")

        # Then it is refused: only 0.01 BTC is free
        assert "ask of 0.02 BTC exceeds the 0.01 BTC of KRW-BTC" in str(refused.value)
        assert portfolio.collect_events() == []

    def test_reserve_for_strategy_without_capital_is_refused(self) -> None:
        portfolio = opened_portfolio()

        with pytest.raises(UnknownStrategyError, match="'gamma' has no capital"):
            reserve(portfolio, terms(), strategy_id="gamma")

        assert portfolio.collect_events() == []


def order_with_lock(portfolio: Portfolio, order_terms: OrderTerms, held_btc: str = "0") -> Order:
    """Given: an OPEN order whose lock the portfolio reserved (events collected)."""
    locked = reserve(portfolio, order_terms, held_btc=held_btc)
    portfolio.collect_events()
    return open_order(order_terms, locked=locked)


class TestSettle:
    def test_bid_fill_debits_funds_and_fee_and_releases_its_share_of_the_lock(self) -> None:
        # Given a limit bid of 0.01 BTC at 50,000,000 locking 500,250 KRW
        portfolio = opened_portfolio()
        order = order_with_lock(portfolio, terms())
        one = fill("t-1", price_krw="50000000", qty_btc="0.004")

        # When 0.004 BTC fills with a 100 KRW fee, releasing 0.004 x 50,025,000 = 200,100 KRW
        settle(portfolio, order, one, released_krw="200100")

        # Then cash drops by 200,100 KRW, fees by 100, and 300,150 KRW stays reserved
        (settled,) = portfolio.collect_events()
        assert isinstance(settled, Portfolio.FillSettled)
        assert settled.cash_delta_krw == D("-200100")
        assert (settled.fee_krw, settled.trading_day) == (D("100"), "2025-01-06")
        book = portfolio.book("alpha")
        assert book.cash_krw == D("9799900")
        assert book.fees_krw == D("100")
        assert book.reserved_krw == D("300150")
        assert portfolio.daily_net_pnl("2025-01-06") == D("-100")

    def test_bid_fill_costing_more_than_the_cash_is_refused(self) -> None:
        # Given 500,250 KRW, all of it locked by a bid of 0.01 BTC at 50,000,000 KRW
        portfolio = opened_portfolio({"alpha": "500250"})
        order = order_with_lock(portfolio, terms())
        dearer = fill("t-1", price_krw="51000000", qty_btc="0.01")

        # When a fill at 51,000,000 KRW would cost 510,255 KRW with its fee, it is refused
        with pytest.raises(InsufficientCashError, match="bid fill t-1 costs 510,255"):
            settle(portfolio, order, dearer, released_krw="500250")

        # And nothing is recorded
        assert portfolio.collect_events() == []

    def test_ask_fill_credits_funds_net_of_fee_and_books_the_realised_pnl(self) -> None:
        # Given an ask of 0.01 BTC locking it
        portfolio = opened_portfolio()
        order = order_with_lock(portfolio, terms("ask", volume_btc="0.01"), held_btc="0.01")

        # When it fills at 51,000,000 KRW (fee 255), realising 10,000 KRW
        sold = fill("t-1", price_krw="51000000", qty_btc="0.01")
        settle(portfolio, order, sold, released_btc="0.01", realised_pnl_krw="10000")

        # Then cash gains 510,000 - 255 KRW and the day's net P&L is 10,000 - 255 KRW
        book = portfolio.book("alpha")
        assert book.cash_krw == D("10509745")
        assert book.realised_pnl_krw == D("10000")
        assert portfolio.reserved_btc_of("alpha", "KRW-BTC") == 0
        assert portfolio.daily_net_pnl("2025-01-06") == D("9745")

    def test_fill_after_09_00_kst_counts_for_the_next_trading_day(self) -> None:
        portfolio = opened_portfolio()
        order = order_with_lock(portfolio, terms())

        settle(portfolio, order, fill("t-1", fee_krw="250"), released_krw="500250", day=1)

        assert portfolio.daily_net_pnl("2025-01-07") == D("-250")
        assert portfolio.daily_net_pnl("2025-01-06") == 0


class TestRelease:
    def test_release_frees_what_an_ended_order_still_locked(self) -> None:
        portfolio = opened_portfolio()
        order = order_with_lock(portfolio, terms())

        portfolio.release(
            order=order, krw=D("500250"), btc=D(0), reason="cancelled", cause=cause(4)
        )

        (released,) = portfolio.collect_events()
        assert isinstance(released, Portfolio.ReservationReleased)
        assert (released.krw, released.reason) == (D("500250"), "cancelled")
        assert portfolio.book("alpha").reserved_krw == 0

    def test_release_of_nothing_records_nothing(self) -> None:
        portfolio = opened_portfolio()
        order = order_with_lock(portfolio, terms())

        portfolio.release(order=order, krw=D(0), btc=D(0), reason="filled", cause=cause(4))

        assert portfolio.collect_events() == []


class TestRecentPlacements:
    @staticmethod
    def place_at(portfolio: Portfolio, n: int, seconds: int) -> None:
        when = Cause(at(0) + timedelta(seconds=seconds), "tester", f"request-{n}", "flow-1")
        portfolio.reserve(
            order_id=f"order-{n}",
            strategy_id="alpha",
            terms=terms(volume_btc="0.001"),
            fee_rate=FEE_RATE,
            held_btc=D(0),
            cause=when,
        )

    def test_each_reservation_is_a_placement_counted_for_60_seconds(self) -> None:
        # Given placements at 00:00:00, 00:00:30 and 00:00:59
        portfolio = opened_portfolio()
        for n, seconds in enumerate([0, 30, 59]):
            self.place_at(portfolio, n, seconds)
        # Then the window before each time holds those less than 60 seconds older
        assert portfolio.orders_placed_within(at(0) + timedelta(seconds=59)) == 3
        assert portfolio.orders_placed_within(at(0) + timedelta(seconds=60)) == 2
        assert portfolio.orders_placed_within(at(0) + timedelta(seconds=119)) == 0

    def test_placements_older_than_the_window_are_dropped_from_the_ledger(self) -> None:
        portfolio = opened_portfolio()
        self.place_at(portfolio, 1, 0)
        self.place_at(portfolio, 2, 30)

        self.place_at(portfolio, 3, 60)

        assert portfolio.recent_placements == [
            at(0) + timedelta(seconds=30),
            at(0) + timedelta(seconds=60),
        ]

    @settings(max_examples=200, deadline=None)
    @given(st.lists(st.integers(min_value=0, max_value=300), max_size=60), st.integers(0, 400))
    def test_the_placements_kept_and_counted_are_those_of_the_window_however_they_arrive(
        self, seconds: list[int], probe: int
    ) -> None:
        # Given placements dated in any order (equal, earlier or later than the last)
        portfolio = opened_portfolio()
        kept: list[int] = []
        for n, s in enumerate(seconds):
            self.place_at(portfolio, n, s)
            # The rule: every placement within the window before the newest, oldest first
            kept = [t for t in sorted([*kept, s]) if t > max(kept + [s]) - 60]
        # Then the ledger keeps exactly those, and counts those within a window before any time
        assert portfolio.recent_placements == [at(0) + timedelta(seconds=t) for t in kept]
        counted = portfolio.orders_placed_within(at(0) + timedelta(seconds=probe))
        assert counted == sum(1 for t in kept if t > probe - 60)

    def test_a_deep_copy_shares_nothing_that_a_later_placement_or_fill_changes(self) -> None:
        # Given a ledger with placements, and its deep copy (as the aggregate cache hands out)
        portfolio = opened_portfolio()
        self.place_at(portfolio, 1, 0)
        copied = copy.deepcopy(portfolio)
        assert vars(copied) == vars(portfolio) and copied is not portfolio
        # When the copy takes another placement
        self.place_at(copied, 2, 30)
        # Then the original keeps its placements and its reserved cash
        assert portfolio.recent_placements == [at(0)]
        assert copied.recent_placements == [at(0), at(0) + timedelta(seconds=30)]
        assert portfolio.book("alpha").reserved_krw < copied.book("alpha").reserved_krw
