"""Questionable input is refused by the one validation the CLI and the API both call.

Given a funded account on the in-memory store, when an operator's command carries a figure
finer than its unit, in exponent notation, a side spelt otherwise, an unbounded text or a fee
beyond the fill's total x fee rate, then the command is refused naming the value and the rule,
and nothing is appended.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from commands.messages import SetRiskLimits
from commands.trading import Trading
from domain.errors import DomainError
from tests.builders import (
    accept_order,
    allocate_capital,
    cause,
    fee,
    last_notification_id,
    place_limit_bid,
    place_market_bid,
    record_fill,
    trading_app,
)


@pytest.fixture
def app() -> Trading:
    app = trading_app()
    app.allocate_capital(allocate_capital("100000000"))
    return app


def refused(app: Trading, run: object, message: str) -> None:
    before = last_notification_id(app)
    with pytest.raises(DomainError) as error:
        run()  # type: ignore[operator]
    assert message in str(error.value)
    assert last_notification_id(app) == before


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("0.0000000000000001", "capital 0.0000000000000001 KRW is not a whole number of KRW"),
        ("1000.5", "capital 1000.5 KRW is not a whole number of KRW"),
        ("1e6", "capital '1e6' is not a decimal number written plainly"),
    ],
)
def test_capital_finer_than_a_won_or_in_exponent_notation_is_refused(
    app: Trading, amount: str, message: str
) -> None:
    refused(app, lambda: app.allocate_capital(allocate_capital(amount)), message)


def test_a_price_in_exponent_notation_is_refused_not_stored_as_2e7(app: Trading) -> None:
    command = place_limit_bid(price_krw="2e7", volume_btc="0.001")
    refused(app, lambda: app.place_order(command), "limit price '2e7' is not a decimal number")


@pytest.mark.parametrize("side", ["BUY", "buy", "Bid", "sell"])
def test_a_side_other_than_bid_or_ask_is_refused(app: Trading, side: str) -> None:
    command = place_limit_bid()
    command = type(command)(**{**command.__dict__, "side": side})
    refused(app, lambda: app.place_order(command), f"order side {side!r} is not one of: bid, ask")


def test_a_market_bid_amount_finer_than_a_won_is_refused(app: Trading) -> None:
    command = place_market_bid(amount_krw="10000.5")
    refused(app, lambda: app.place_operator_order(command), "amount 10000.5 KRW is not a whole")


def test_a_risk_limit_finer_than_a_won_is_refused(app: Trading) -> None:
    command = SetRiskLimits(reason="limits", cause=cause(1), max_order_krw="1000000.01")
    refused(
        app,
        lambda: app.set_risk_limits(command),
        "max order notional 1000000.01 KRW is not a whole number",
    )


def test_texts_longer_than_their_bound_are_refused(app: Trading) -> None:
    long_id = "c" * 10_000
    refused(
        app,
        lambda: app.place_order(place_limit_bid(client_order_id=long_id)),
        "client order id is 10000 characters long; at most 64 are accepted",
    )
    order_id = app.place_order(place_limit_bid())
    app.accept_order(accept_order(order_id))
    fill = record_fill(order_id, trade_id="t" * 10_000, qty_btc="0.001")
    refused(app, lambda: app.record_fill(fill), "trade id is 10000 characters long; at most 128")


@pytest.mark.parametrize("strategy_id", ["my strategy", "a/b", "전략", "alpha\u200b"])
def test_a_strategy_id_outside_the_identifier_alphabet_is_refused(
    app: Trading, strategy_id: str
) -> None:
    message = f"strategy id {strategy_id!r} may hold only the characters A-Z a-z 0-9 _ . : @ -"
    allocation = allocate_capital("1000", strategy_id=strategy_id)
    refused(app, lambda: app.allocate_capital(allocation), message)


def test_a_client_order_id_outside_the_identifier_alphabet_is_refused(app: Trading) -> None:
    refused(
        app,
        lambda: app.place_order(place_limit_bid(client_order_id="order #1")),
        "client order id 'order #1' may hold only the characters A-Z a-z 0-9 _ . : @ -",
    )


def open_bid(app: Trading) -> object:
    order_id = app.place_order(place_limit_bid(price_krw="8000000", volume_btc="0.001"))
    app.accept_order(accept_order(order_id))
    return order_id


def test_a_fee_beyond_the_fills_total_times_the_fee_rate_is_refused(app: Trading) -> None:
    # Given an 8,000 KRW fill (0.001 BTC at 8,000,000 KRW) at the 0.05 % rate (4 KRW)
    order_id = open_bid(app)
    fill = record_fill(order_id, price_krw="8000000", qty_btc="0.001", fee_krw="99999999")
    refused(
        app,
        lambda: app.record_fill(fill),
        "fill fee 99999999 KRW is above 4 KRW (8,000.000 KRW x fee rate 0.0005",
    )


@pytest.mark.parametrize("fee_krw", ["0", "4", "4.0000", "3.99"])
def test_a_fee_within_the_fills_total_times_the_fee_rate_is_recorded(
    app: Trading, fee_krw: str
) -> None:
    order_id = open_bid(app)
    fill = record_fill(order_id, price_krw="8000000", qty_btc="0.001", fee_krw=fee_krw)
    assert app.record_fill(fill) is True


def test_a_derived_fee_rounded_up_to_the_won_is_recorded_and_one_more_is_not(
    app: Trading,
) -> None:
    # 0.00123 BTC at 8,001,000 KRW: total 9,841.23 KRW, fee 4.920615 KRW at 0.05 %
    order_id = app.place_order(place_limit_bid(price_krw="8001000", volume_btc="0.004"))
    app.accept_order(accept_order(order_id))
    exact = fee("8001000", "0.00123")
    assert exact == Decimal("4.92061500")
    app.record_fill(record_fill(order_id, price_krw="8001000", qty_btc="0.00123", fee_krw=exact))
    app.record_fill(
        record_fill(order_id, trade_id="t-2", price_krw="8001000", qty_btc="0.00123", fee_krw="5")
    )
    too_much = record_fill(
        order_id, trade_id="t-3", price_krw="8001000", qty_btc="0.00123", fee_krw="5.01"
    )
    refused(app, lambda: app.record_fill(too_much), "fill fee 5.01 KRW is above")
