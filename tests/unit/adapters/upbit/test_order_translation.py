"""Tickets as Upbit order bodies, and Upbit's order objects (recorded ones too) as the port's."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal as D
from uuid import UUID

import pytest

from adapters.upbit.order_translation import (
    MalformedExchangeAnswerError,
    PaidFeeMismatchError,
    exchange_order,
    order_body,
)
from adapters.upbit.parsing import UpbitOrder, parse_order
from commands.errors import ExchangeUnavailableError
from commands.ports import ExchangeOrderState, OrderTicket
from domain.fills.paper_fill_model import FillModel
from domain.orders.terms import OrderSide, OrderType
from tests.unit.adapters.upbit.samples import recorded_body

ORDER_ID = UUID("0b9f6a52-7d5e-4a8e-9f57-0d3c3a6b1c11")
RATE = D("0.0005")


def ticket(side: OrderSide, order_type: OrderType, **amounts: D) -> OrderTicket:
    return OrderTicket(ORDER_ID, "KRW-BTC", side, order_type, **amounts)


@pytest.mark.parametrize(
    ("given", "body"),
    [
        (
            ticket(OrderSide.BID, OrderType.LIMIT, price_krw=D("1.0E+7"), volume_btc=D("0.00050")),
            [("volume", "0.0005"), ("price", "10000000"), ("ord_type", "limit")],
        ),
        (
            ticket(OrderSide.BID, OrderType.MARKET, amount_krw=D("10000.00")),
            [("price", "10000"), ("ord_type", "price")],
        ),
        (
            ticket(OrderSide.ASK, OrderType.MARKET, volume_btc=D("0.00009713")),
            [("volume", "0.00009713"), ("ord_type", "market")],
        ),
    ],
    ids=["limit", "market-bid", "market-ask"],
)
def test_a_ticket_becomes_upbits_body_with_plain_numbers_and_its_id_as_identifier(
    given: OrderTicket, body: list[tuple[str, str]]
) -> None:
    side = given.side.value
    expected = [("market", "KRW-BTC"), ("side", side), *body, ("identifier", str(ORDER_ID))]
    assert order_body(given) == expected


@pytest.mark.parametrize(
    "given",
    [
        ticket(OrderSide.BID, OrderType.LIMIT, price_krw=D(10000000)),
        ticket(OrderSide.BID, OrderType.MARKET, amount_krw=D(10000), volume_btc=D(1)),
        ticket(OrderSide.ASK, OrderType.MARKET, volume_btc=D(-1)),
        ticket(OrderSide.ASK, OrderType.MARKET, volume_btc=D("NaN")),
    ],
    ids=["limit-without-volume", "market-bid-with-volume", "negative", "nan"],
)
def test_a_ticket_that_lacks_or_misuses_an_amount_is_refused_before_anything_is_sent(
    given: OrderTicket,
) -> None:
    with pytest.raises(ValueError, match="order"):
        order_body(given)


def recorded_order(index: int) -> UpbitOrder:
    return parse_order(recorded_body("order_get.json", index))


@pytest.mark.parametrize("index", [1, 2], ids=["market-bid", "market-ask"])
def test_recorded_upbit_trades_at_the_accounts_rate_add_up_to_the_recorded_paid_fee(
    index: int,
) -> None:
    upbit = recorded_order(index)
    order = exchange_order(upbit, ORDER_ID, RATE)
    (trade,) = order.trades
    (raw,) = upbit.trades
    assert (trade.trade_id, trade.price_krw, trade.qty_btc) == (raw.trade_id, raw.price, raw.volume)
    assert trade.fee_krw == upbit.paid_fee == FillModel(fee_rate=RATE).fee(raw.volume, raw.price)
    assert trade.executed_at.tzinfo == UTC and order.created_at.tzinfo == UTC
    assert order.state is (ExchangeOrderState.CANCEL if index == 1 else ExchangeOrderState.DONE)


def test_a_recorded_resting_order_has_no_trades_and_needs_no_rate() -> None:
    order = exchange_order(recorded_order(0), ORDER_ID, None)
    assert (order.state, order.trades) == (ExchangeOrderState.WAIT, ())
    assert order.created_at == datetime(2026, 3, 22, 12, 42, 22, tzinfo=UTC)


def test_an_ended_order_whose_fees_do_not_add_up_is_refused_naming_both_sums() -> None:
    with pytest.raises(PaidFeeMismatchError) as mismatch:
        exchange_order(recorded_order(1), ORDER_ID, D("0.0004"))
    assert "4.999523925" in str(mismatch.value) and "0.0004" in str(mismatch.value)
    assert isinstance(mismatch.value, ExchangeUnavailableError)


def test_a_working_order_is_not_checked_against_paid_fee_until_it_ends() -> None:
    working = replace(recorded_order(1), state="wait", paid_fee=D(0))
    (trade,) = exchange_order(working, ORDER_ID, RATE).trades
    assert trade.fee_krw == D("4.999523925")


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"identifier": "someone-else"}, "identifier someone-else"),
        ({"state": "exploded"}, "state 'exploded'"),
        ({"trades_count": 2}, "trades_count is 2"),
        ({"executed_volume": D("0.0001")}, "executed_volume is 0.0001"),
    ],
    ids=["identifier", "state", "count", "volume"],
)
def test_an_answer_that_contradicts_itself_is_refused_by_name(
    change: dict[str, object], named: str
) -> None:
    with pytest.raises(MalformedExchangeAnswerError, match=named):
        exchange_order(replace(recorded_order(1), **change), ORDER_ID, RATE)  # type: ignore[arg-type]


def test_a_trade_listed_twice_is_refused() -> None:
    upbit = recorded_order(2)
    twice = replace(
        upbit,
        trades=upbit.trades * 2,
        trades_count=2,
        executed_volume=upbit.executed_volume * 2,
        paid_fee=upbit.paid_fee * 2,
    )
    with pytest.raises(MalformedExchangeAnswerError, match="trade id twice"):
        exchange_order(twice, ORDER_ID, RATE)
