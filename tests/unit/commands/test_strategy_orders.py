"""A strategy's order refused by a pre-trade risk rule is recorded as denied, not raised:
`order.placed` locking nothing, then `order.rejected` by risk with the rule's code, in one
transaction. Operators' orders and value errors keep being refused, appending nothing."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from commands.messages import PlaceOrder
from commands.trading import Trading
from domain.errors import (
    DuplicateOrderError,
    InsufficientCashError,
    InsufficientPositionError,
    OrderBelowMinimumTotalError,
    PriceOffTickError,
    TradingHaltedError,
)
from domain.orders.order import Order
from domain.orders.status import OrderStatus
from tests.builders import (
    change_trading_state,
    events_since,
    last_notification_id,
    place_limit_ask,
    place_limit_bid,
    place_market_bid,
    set_risk_limits,
)

DENIALS = [
    ("HALTED", {}, place_limit_bid("s-1"), "trading_halted"),
    ("REDUCING", {}, place_limit_bid("s-1"), "trading_reducing"),
    (None, {"max_order_krw": "400000"}, place_limit_bid("s-1"), "order_notional_limit"),
    (None, {"max_exposure_krw": "400000"}, place_limit_bid("s-1"), "exposure_limit"),
]


@pytest.mark.parametrize(
    ("state", "limits", "command", "code"), DENIALS, ids=[d[3] for d in DENIALS]
)
def test_strategy_order_refused_by_a_pre_trade_rule_is_recorded_as_rejected_by_risk(
    trading: Trading, state: str | None, limits: dict[str, str], command: PlaceOrder, code: str
) -> None:
    # Given the trading state or a limit that refuses a 500,000 KRW bid
    if state is not None:
        trading.change_trading_state(change_trading_state(state))
    if limits:
        trading.set_risk_limits(set_risk_limits(**limits))
    before = last_notification_id(trading)
    # When a strategy places the bid
    placement = trading.place_strategy_order(command)
    # Then the order is placed locking nothing and rejected by risk with the rule's code
    placed, rejected = events_since(trading, before)
    assert isinstance(placed, Order.Placed) and isinstance(rejected, Order.Rejected)
    assert (placed.locked_krw, placed.locked_btc) == (D(0), D(0))
    assert rejected.rejected_by == "risk"
    assert rejected.reason.startswith(f"{code}: ")
    assert placement.is_denied and placement.denial is not None
    assert placement.denial.code == code and str(placement.denial) in rejected.reason
    assert trading.get_order(placement.order_id).status is OrderStatus.FAILED


def test_a_denied_order_locks_nothing_and_leaves_the_ledger_unchanged(trading: Trading) -> None:
    # Given HALTED trading and the strategy's book
    trading.change_trading_state(change_trading_state("HALTED"))
    portfolio = trading.get_portfolio()
    assert portfolio is not None
    book_before = portfolio.book("alpha")
    version_before = portfolio.version
    # When its market bid is denied
    trading.place_strategy_order(place_market_bid("s-2", amount_krw="1000000"))
    # Then the cash ledger has no new event and the same cash, reserved and available KRW
    after = trading.get_portfolio()
    assert after is not None and after.version == version_before
    assert after.book("alpha") == book_before


def test_a_strategy_order_that_no_rule_refuses_is_placed_as_before(trading: Trading) -> None:
    placement = trading.place_strategy_order(place_limit_bid("s-3"))
    assert not placement.is_denied
    assert trading.get_order(placement.order_id).status is OrderStatus.NEW


@pytest.mark.parametrize(
    ("state", "command", "error"),
    [
        # value rules come before risk: refused even while HALTED
        ("HALTED", place_limit_bid("s-4", price_krw="50000500"), PriceOffTickError),
        ("HALTED", place_limit_bid("s-4", volume_btc="0.00001"), OrderBelowMinimumTotalError),
        # ledger rules come after risk: refused when risk lets the order through
        ("ACTIVE", place_limit_bid("s-4", volume_btc="1"), InsufficientCashError),
        ("ACTIVE", place_limit_ask("s-4"), InsufficientPositionError),
    ],
)
def test_value_and_ledger_errors_of_a_strategy_order_are_refused_appending_nothing(
    trading: Trading, state: str, command: PlaceOrder, error: type[Exception]
) -> None:
    # Given the trading state
    if state != "ACTIVE":
        trading.change_trading_state(change_trading_state(state))
    before = last_notification_id(trading)
    # When the order breaks a value or ledger rule, then it is refused, appending nothing
    with pytest.raises(error):
        trading.place_strategy_order(command)
    assert last_notification_id(trading) == before


def test_an_operator_order_refused_by_risk_still_raises_and_appends_nothing(
    trading: Trading,
) -> None:
    trading.change_trading_state(change_trading_state("HALTED"))
    before = last_notification_id(trading)
    with pytest.raises(TradingHaltedError):
        trading.place_order(place_limit_bid("op-1"))
    assert last_notification_id(trading) == before


def test_a_denied_strategy_order_repeated_with_its_client_order_id_is_a_duplicate(
    trading: Trading,
) -> None:
    trading.change_trading_state(change_trading_state("HALTED"))
    trading.place_strategy_order(place_limit_bid("s-5"))
    before = last_notification_id(trading)
    with pytest.raises(DuplicateOrderError):
        trading.place_strategy_order(place_limit_bid("s-5"))
    assert last_notification_id(trading) == before
