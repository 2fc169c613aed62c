"""The behaviour every `ExchangeGateway` must have (style S5.5): subclass it as `Test...`.

A subclass supplies `venue()`: an exchange replaying the fixture's real candles of KRW-BTC,
its clock standing at `NOW` (2023-03-12 06:30:20 UTC), matching orders with the paper fill
model of strategies.md, and the gateway to it. Fills are compared with `FillModel` itself.
Among the behaviours is guarantee 2 of architecture.md: whatever is lost on the way (an answer
after the order was created, a request before it was, a 429), an order reaches the exchange
at most once, and a second `submit` of the same ticket returns the first order.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Protocol
from uuid import uuid4

import pytest

from adapters.market_data.candles_csv import read_tape
from commands.errors import ExchangeRefusedOrderError, ExchangeUnavailableError
from commands.ports import (
    ExchangeGateway,
    ExchangeOrder,
    ExchangeOrderState,
    ExchangeTrade,
    OrderTicket,
)
from domain.candles.candle import Candle
from domain.fills.paper_fill_model import FillModel, PaperFill
from domain.orders.terms import OrderSide, OrderType

FIXTURE = (
    Path(__file__).resolve().parents[1]
    / "fixtures"
    / "candles"
    / "upbit-KRW-BTC-1m-2023-03-09_2023-03-16.csv.gz"
)
NOW = datetime(2023, 3, 12, 6, 30, 20, tzinfo=UTC)
MARKET = "KRW-BTC"
FEE = Decimal("0.0005")
TAPE = read_tape(FIXTURE)


class GatewayVenue(Protocol):
    """One test's exchange (fresh account, clock at NOW) and the gateway to it."""

    @property
    def gateway(self) -> ExchangeGateway:
        """The gateway under test."""
        ...

    def advance(self, minutes: float) -> None:
        """Move market time to NOW + `minutes`: the candles before it close and fill orders."""
        ...

    def orders_at_exchange(self) -> list[str]:
        """Return the identifier of every order the exchange holds, from its own records."""
        ...

    def order_submissions(self) -> int:
        """Return how many order requests have reached the exchange (refused ones too)."""
        ...

    def spoil_next_orders(self, kind: str, count: int = 1) -> None:
        """Spoil the next `count` order requests.

        Kinds: `error_after_create` (the order is made, the answer is a 5xx),
        `hang_after_create` (made, the answer comes after the gateway's timeout),
        `error_before_create` (a 5xx, nothing made), `rate_limited` (429, nothing made).
        """
        ...

    def heal(self) -> None:
        """Drop every spoilt request still waiting."""
        ...


def limit(side: OrderSide, volume: str, price: str) -> OrderTicket:
    """Return a limit ticket with a fresh order id."""
    return OrderTicket(
        uuid4(), MARKET, side, OrderType.LIMIT, price_krw=Decimal(price), volume_btc=Decimal(volume)
    )


def market_bid(amount_krw: str) -> OrderTicket:
    return OrderTicket(
        uuid4(), MARKET, OrderSide.BID, OrderType.MARKET, amount_krw=Decimal(amount_krw)
    )


def market_ask(volume: str) -> OrderTicket:
    return OrderTicket(uuid4(), MARKET, OrderSide.ASK, OrderType.MARKET, volume_btc=Decimal(volume))


RESTING_BID = ("0.0005", "10000000")
"""A limit bid far below the market (about 27,000,000 KRW): it rests and never fills."""


def paper_fills(
    model: FillModel,
    fill: Callable[[Decimal, Candle], PaperFill | None],
    remaining: Decimal,
    until: datetime,
) -> list[PaperFill]:
    """Return the paper model's fills of an order placed at NOW, candle by candle up to `until`.

    `fill(remaining, candle)` is the model's rule for the order; `remaining` what it starts with.
    """
    start = NOW.replace(second=0)
    fills: list[PaperFill] = []
    index = int((start - TAPE.open_time(0)) / timedelta(minutes=1))
    while remaining > 0 and TAPE.open_time(index) + timedelta(minutes=1) <= until:
        found = fill(remaining, TAPE.candle(index))
        if found is not None:
            fills.append(found)
            remaining -= found.qty
            if found.is_complete:
                break
        index += 1
    return fills


def as_trades(fills: list[PaperFill]) -> list[tuple[Decimal, Decimal, Decimal]]:
    return [(f.price, f.qty, f.fee) for f in fills]


def trade_terms(trades: tuple[ExchangeTrade, ...]) -> list[tuple[Decimal, Decimal, Decimal]]:
    return [(t.price_krw, t.qty_btc, t.fee_krw) for t in trades]


class ExchangeGatewayContract:
    """The tests every gateway passes. Subclasses implement `venue`."""

    def venue(
        self, *, krw: str = "10000000", btc: str = "0", participation: str | None = None
    ) -> AbstractContextManager[GatewayVenue]:
        """Return a fresh venue: the account's KRW and BTC, the fill model's participation cap."""
        raise NotImplementedError

    # Submitting and reading back.
    def test_a_limit_order_is_placed_under_its_id_and_found_by_it(self) -> None:
        with self.venue() as v:
            ticket = limit(OrderSide.BID, *RESTING_BID)
            placed = v.gateway.submit(ticket)
            assert (placed.order_id, placed.market, placed.state) == (
                ticket.order_id,
                MARKET,
                ExchangeOrderState.WAIT,
            )
            assert placed.exchange_order_id and placed.trades == ()
            assert placed.created_at == NOW and placed.created_at.tzinfo is not None
            assert v.gateway.find(ticket.order_id) == placed
            assert v.orders_at_exchange() == [str(ticket.order_id)]

    def test_a_market_bid_spends_its_amount_at_the_next_open_with_the_paper_models_fee(
        self,
    ) -> None:
        with self.venue() as v:
            ticket = market_bid("10000")
            placed = v.gateway.submit(ticket)
            assert placed.state is ExchangeOrderState.WAIT and placed.trades == ()
            v.advance(1)  # 06:30 closes
            found = v.gateway.find(ticket.order_id)
            assert found is not None
            model = FillModel(fee_rate=FEE)
            expected = paper_fills(
                model, model.market_buy, Decimal(10000), NOW + timedelta(minutes=1)
            )
            assert trade_terms(found.trades) == as_trades(expected)
            assert found.state is ExchangeOrderState.CANCEL  # the KRW dust it cannot spend
            (trade,) = found.trades
            assert trade.executed_at == datetime(2023, 3, 12, 6, 31, tzinfo=UTC)

    def test_a_market_ask_sells_its_volume_at_the_next_open_and_is_done(self) -> None:
        with self.venue(btc="0.01") as v:
            ticket = market_ask("0.01")
            v.gateway.submit(ticket)
            v.advance(2)
            found = v.gateway.find(ticket.order_id)
            assert found is not None and found.state is ExchangeOrderState.DONE
            model = FillModel(fee_rate=FEE)
            expected = paper_fills(
                model, model.market_sell, Decimal("0.01"), NOW + timedelta(minutes=2)
            )
            assert trade_terms(found.trades) == as_trades(expected)

    def test_a_partly_filled_order_lists_each_trade_with_the_paper_models_fee(self) -> None:
        with self.venue(btc="1", participation="0.01") as v:
            ticket = limit(OrderSide.ASK, "0.05", "27450000")
            v.gateway.submit(ticket)
            model = FillModel(fee_rate=FEE, max_participation=Decimal("0.01"))

            def sell(remaining: Decimal, candle: Candle) -> PaperFill | None:
                return model.limit_sell(Decimal(27450000), remaining, candle)

            v.advance(1)
            partial = v.gateway.find(ticket.order_id)
            assert partial is not None and partial.state is ExchangeOrderState.WAIT
            first = paper_fills(model, sell, Decimal("0.05"), NOW + timedelta(minutes=1))
            assert trade_terms(partial.trades) == as_trades(first) and len(first) == 1
            assert first[0].qty < Decimal("0.05")  # capped by the candle's volume
            v.advance(10)
            done = v.gateway.find(ticket.order_id)
            assert done is not None and done.state is ExchangeOrderState.DONE
            every = paper_fills(model, sell, Decimal("0.05"), NOW + timedelta(minutes=10))
            assert trade_terms(done.trades) == as_trades(every) and len(every) > 1
            assert sum(t.qty_btc for t in done.trades) == Decimal("0.05")
            assert done.trades[0] == partial.trades[0]  # a trade keeps its id and fee
            assert len({t.trade_id for t in done.trades}) == len(done.trades)

    def test_an_order_never_placed_is_not_found(self) -> None:
        with self.venue() as v:
            assert v.gateway.find(uuid4()) is None

    # Cancelling.
    def test_a_cancel_ends_a_partly_filled_order_and_keeps_its_trades(self) -> None:
        with self.venue(btc="1", participation="0.01") as v:
            ticket = limit(OrderSide.ASK, "0.05", "27450000")
            v.gateway.submit(ticket)
            v.advance(1)
            cancelled = v.gateway.cancel(ticket.order_id)
            assert cancelled.order_id == ticket.order_id and len(cancelled.trades) == 1
            v.advance(5)
            found = v.gateway.find(ticket.order_id)
            assert found is not None and found.state is ExchangeOrderState.CANCEL
            assert found.trades == cancelled.trades  # nothing filled after the cancel
            (btc,) = [b for b in v.gateway.balances() if b.currency == "BTC"]
            assert btc.free == 1 - found.trades[0].qty_btc and btc.locked == 0

    def test_cancelling_an_ended_or_unknown_order_is_refused_with_the_exchanges_code(
        self,
    ) -> None:
        with self.venue() as v:
            ticket = limit(OrderSide.BID, *RESTING_BID)
            v.gateway.submit(ticket)
            v.gateway.cancel(ticket.order_id)
            for order_id in (ticket.order_id, uuid4()):
                with pytest.raises(ExchangeRefusedOrderError) as refused:
                    v.gateway.cancel(order_id)
                assert refused.value.code

    # Lists.
    def test_open_orders_are_every_working_order_with_its_trades(self) -> None:
        with self.venue(btc="1", participation="0.01") as v:
            resting = [limit(OrderSide.BID, "0.0005", str(10000000 + k * 1000)) for k in range(4)]
            partly = limit(OrderSide.ASK, "0.05", "27450000")
            ended = market_bid("10000")
            for ticket in (*resting, partly, ended):
                v.gateway.submit(ticket)
            v.gateway.cancel(resting[0].order_id)
            v.advance(1)
            working = v.gateway.open_orders(MARKET)
            by_id = {o.order_id: o for o in working}
            assert set(by_id) == {t.order_id for t in (*resting[1:], partly)}
            assert all(o.state is ExchangeOrderState.WAIT for o in working)
            assert len(by_id[partly.order_id].trades) == 1
            assert by_id[partly.order_id] == v.gateway.find(partly.order_id)
            assert v.gateway.open_orders("KRW-ETH") == []

    def test_balances_show_what_is_free_and_what_orders_lock(self) -> None:
        with self.venue(btc="0.5") as v:
            v.gateway.submit(limit(OrderSide.BID, *RESTING_BID))
            v.gateway.submit(limit(OrderSide.ASK, "0.1", "40000000"))
            balances = {b.currency: b for b in v.gateway.balances()}
            krw, btc = balances["KRW"], balances["BTC"]
            assert (krw.free, krw.locked) == (Decimal("9994997.5"), Decimal("5002.5"))
            assert (btc.free, btc.locked) == (Decimal("0.4"), Decimal("0.1"))

    # Refusals.
    @pytest.mark.parametrize(
        ("volume", "price", "code"),
        [
            ("1", "10000000", "insufficient_funds_bid"),
            ("0.0001", "10000000", "under_min_total_bid"),
            ("0.0005", "10000500", "invalid_price_bid"),
        ],
        ids=["funds", "min-total", "tick"],
    )
    def test_a_refused_order_carries_upbits_name_names_the_value_and_changes_nothing(
        self, volume: str, price: str, code: str
    ) -> None:
        with self.venue() as v:
            ticket = limit(OrderSide.BID, volume, price)
            with pytest.raises(ExchangeRefusedOrderError) as refused:
                v.gateway.submit(ticket)
            assert refused.value.code == code
            assert str(ticket.order_id) in str(refused.value)
            assert f"{volume} BTC at {price} KRW" in str(refused.value)
            assert v.orders_at_exchange() == []
            (krw,) = v.gateway.balances()
            assert (krw.free, krw.locked) == (Decimal(10000000), Decimal(0))

    # At most once (architecture.md, guarantee 2).
    def test_a_second_submit_of_the_same_ticket_returns_the_first_order(self) -> None:
        with self.venue() as v:
            ticket = limit(OrderSide.BID, *RESTING_BID)
            first = v.gateway.submit(ticket)
            again = v.gateway.submit(ticket)
            assert again.exchange_order_id == first.exchange_order_id
            assert v.orders_at_exchange() == [str(ticket.order_id)]

    @pytest.mark.parametrize("kind", ["error_after_create", "hang_after_create"])
    def test_an_answer_lost_after_the_order_was_made_gives_that_one_order(self, kind: str) -> None:
        with self.venue() as v:
            v.spoil_next_orders(kind)
            ticket = limit(OrderSide.BID, *RESTING_BID)
            placed = v.gateway.submit(ticket)
            assert placed.order_id == ticket.order_id and placed.state is ExchangeOrderState.WAIT
            assert v.orders_at_exchange() == [str(ticket.order_id)]
            assert v.order_submissions() == 1  # found by its id, never sent again

    def test_a_request_lost_before_the_order_was_made_is_sent_once_more(self) -> None:
        with self.venue() as v:
            v.spoil_next_orders("error_before_create")
            ticket = limit(OrderSide.BID, *RESTING_BID)
            placed = v.gateway.submit(ticket)
            assert placed.order_id == ticket.order_id
            assert v.orders_at_exchange() == [str(ticket.order_id)]
            assert v.order_submissions() == 2

    def test_a_rate_limited_order_is_sent_again_after_a_pause(self) -> None:
        with self.venue() as v:
            v.spoil_next_orders("rate_limited")
            ticket = limit(OrderSide.BID, *RESTING_BID)
            assert v.gateway.submit(ticket).order_id == ticket.order_id
            assert v.orders_at_exchange() == [str(ticket.order_id)]
            assert v.order_submissions() == 2

    def test_when_retries_are_spent_the_outcome_is_unknown_and_find_tells_the_truth(
        self,
    ) -> None:
        with self.venue() as v:
            v.spoil_next_orders("error_before_create", count=50)
            ticket = limit(OrderSide.BID, *RESTING_BID)
            with pytest.raises(ExchangeUnavailableError) as unknown:
                v.gateway.submit(ticket)
            assert "outcome is unknown" in str(unknown.value)
            assert v.orders_at_exchange() == []
            assert v.gateway.find(ticket.order_id) is None
            v.heal()
            placed = v.gateway.submit(ticket)  # the caller tries again later, same ticket
            assert placed.order_id == ticket.order_id
            assert v.orders_at_exchange() == [str(ticket.order_id)]

    def test_orders_found_by_id_are_equal_whichever_way_they_were_read(self) -> None:
        with self.venue() as v:
            ticket = limit(OrderSide.BID, *RESTING_BID)
            placed: ExchangeOrder = v.gateway.submit(ticket)
            (listed,) = v.gateway.open_orders(MARKET)
            assert listed == placed == v.gateway.find(ticket.order_id)
