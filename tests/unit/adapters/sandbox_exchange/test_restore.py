"""Restoring the sandbox's account from a run's past order requests (POST /sandbox/restore)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from adapters.market_data.candles_csv import read_tape
from adapters.sandbox_exchange.app import SANDBOX_KEYS
from adapters.sandbox_exchange.market_data import SandboxMarket
from adapters.sandbox_exchange.paper_exchange import PaperExchange
from adapters.sandbox_exchange.restore import RestoreRefusedError, restore_account
from tests.unit.commands.backtest.runs import MARCH

FIRST = datetime(2023, 3, 9, tzinfo=UTC)
KEY = "sandbox-access-key"
BID = {"market": "KRW-BTC", "side": "bid", "ord_type": "limit", "price": "27000000"}


@pytest.fixture(scope="module")
def market() -> SandboxMarket:
    return SandboxMarket("KRW-BTC", read_tape(MARCH))


def body(*requests: dict[str, Any], clock: datetime, **extra: Any) -> dict[str, Any]:
    return {"access_key": KEY, "requests": list(requests), "clock": clock.isoformat(), **extra}


def place(at: datetime, identifier: str) -> dict[str, Any]:
    return {"at": at.isoformat(), "place": {**BID, "volume": "0.001", "identifier": identifier}}


def test_the_same_requests_at_the_same_times_give_the_same_orders_and_balances(
    market: SandboxMarket,
) -> None:
    # Given an account that served a bid and its cancel an hour later
    original = PaperExchange({"KRW-BTC": market})
    order = original.place({**BID, "volume": "0.001", "identifier": "a"}, FIRST, KEY)
    original.cancel(FIRST + timedelta(hours=1), uuid=None, identifier="a")
    end = FIRST + timedelta(hours=2)

    # When a fresh account is restored from those requests
    fresh = PaperExchange({"KRW-BTC": market})
    cancel = {"at": (FIRST + timedelta(hours=1)).isoformat(), "cancel": "a"}
    outcome, held = restore_account(fresh, body(place(FIRST, "a"), cancel, clock=end), SANDBOX_KEYS)

    # Then it holds the same order (same uuid, state, trades) and the same balances
    assert (outcome.placed, outcome.cancelled, held) == (1, 1, end)
    again = fresh.find(end, uuid=order.uuid, identifier=None)
    assert again.body() == original.find(end, uuid=order.uuid, identifier=None).body()
    assert fresh.accounts(end) == original.accounts(end)


@pytest.mark.parametrize(
    ("make", "named"),
    [
        (
            lambda: body(place(FIRST, "b"), place(FIRST - timedelta(minutes=1), "c"), clock=FIRST),
            "before request 1",
        ),
        (lambda: body(place(FIRST, "b"), clock=FIRST - timedelta(minutes=1)), "after clock"),
        (lambda: body(clock=FIRST, balances={"KRW": "-1"}), "KRW '-1'"),
        (lambda: {**body(clock=FIRST), "access_key": "nobody"}, "'nobody'"),
    ],
)
def test_a_malformed_restore_is_refused_naming_the_rule_and_serves_nothing(
    market: SandboxMarket, make: Any, named: str
) -> None:
    exchange = PaperExchange({"KRW-BTC": market}, krw=Decimal(5_000_000))
    with pytest.raises(RestoreRefusedError, match=named):
        restore_account(exchange, make(), SANDBOX_KEYS)
    assert not exchange.orders and exchange.balances["KRW"].free == 5_000_000


def test_a_restore_on_an_account_that_has_orders_is_refused(market: SandboxMarket) -> None:
    exchange = PaperExchange({"KRW-BTC": market})
    exchange.place({**BID, "volume": "0.001", "identifier": "x"}, FIRST, KEY)
    with pytest.raises(RestoreRefusedError, match="1 orders already"):
        restore_account(exchange, body(place(FIRST, "y"), clock=FIRST), SANDBOX_KEYS)
    assert len(exchange.orders) == 1
