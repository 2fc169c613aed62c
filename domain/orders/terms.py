"""Order terms: side, type and the amounts of an Upbit KRW order, validated by Upbit's rules.

A market BID spends a KRW amount (Upbit `ord_type=price`); a market ASK sells a BTC volume
(Upbit `ord_type=market`); a limit order has a price on the tick grid and a volume
(upbit-api.md §5.3, §7).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import Enum

from domain.constants import MAX_ORDER_TOTAL_KRW, MIN_ORDER_TOTAL_KRW
from domain.errors import (
    InvalidOrderShapeError,
    OrderAboveMaximumTotalError,
    OrderBelowMinimumTotalError,
)
from domain.market import Market
from domain.money import positive_btc, positive_krw
from domain.ticks import require_on_tick


class OrderSide(Enum):
    """Upbit's sides: BID buys the base asset with KRW, ASK sells it for KRW."""

    BID = "bid"
    ASK = "ask"


class OrderType(Enum):
    """Limit orders rest at a price; market orders take the book."""

    LIMIT = "limit"
    MARKET = "market"


def parse_side(value: str) -> OrderSide:
    """Return the side named `value`: exactly `bid` or `ask`, as the API takes it.

    No other spelling (BUY, sell, Bid) is read as a side: a typo must not trade.

    Raises:
        InvalidOrderShapeError: the side is not `bid` or `ask`.
    """
    try:
        return OrderSide(value)
    except ValueError:
        raise InvalidOrderShapeError(f"order side {value!r} is not one of: bid, ask") from None


def parse_type(value: str) -> OrderType:
    """Return the order type named `value`: exactly `limit` or `market`.

    Raises:
        InvalidOrderShapeError: the type is not `limit` or `market`.
    """
    try:
        return OrderType(value)
    except ValueError:
        raise InvalidOrderShapeError(f"order type {value!r} is not one of: limit, market") from None


@dataclass(frozen=True)
class OrderTerms:
    """What an order asks for; exactly the fields its type needs are set."""

    market: Market
    side: OrderSide
    order_type: OrderType
    price_krw: Decimal | None
    volume_btc: Decimal | None
    amount_krw: Decimal | None
    reference_price_krw: Decimal | None = None
    """The price a market ask is valued at (the last close); None for other orders."""

    @property
    def upbit_ord_type(self) -> str:
        """Return Upbit's `ord_type`: limit, price (market bid) or market (market ask)."""
        if self.order_type is OrderType.LIMIT:
            return "limit"
        return "price" if self.side is OrderSide.BID else "market"

    @property
    def is_amount_order(self) -> bool:
        """Return True for a market bid, which is sized in KRW rather than in BTC."""
        return self.amount_krw is not None


def order_terms(
    market: Market,
    side: OrderSide,
    order_type: OrderType,
    *,
    at: datetime,
    price_krw: object = None,
    volume_btc: object = None,
    amount_krw: object = None,
    reference_price_krw: object = None,
) -> OrderTerms:
    """Return validated terms, or refuse the order with the rule it breaks.

    `reference_price_krw` is needed only for a market ASK: its total for the minimum check is
    volume x the reference price (strategies.md clarification 5).

    Raises:
        InvalidOrderShapeError: the fields do not fit the side and type.
        InvalidAmountError: an amount is not positive or too precise.
        PriceOffTickError: a limit price is off the tick grid.
        OrderBelowMinimumTotalError: the total is below 5,000 KRW.
        OrderAboveMaximumTotalError: the total is above 1,000,000,000 KRW.
    """
    given = {"price": price_krw, "volume": volume_btc, "amount": amount_krw}
    if order_type is OrderType.LIMIT:
        needed = {"price", "volume"}
    elif side is OrderSide.BID:
        needed = {"amount"}
    else:
        needed = {"volume"}
    kind = f"a {order_type.value} {side.value}"
    for name, value in given.items():
        if name in needed and value is None:
            raise InvalidOrderShapeError(f"{kind} needs a {name}; none was given")
        if name not in needed and value is not None:
            raise InvalidOrderShapeError(
                f"{kind} takes only {' and '.join(sorted(needed))}; a {name} ({value}) was given"
            )
    price = None
    if price_krw is not None:
        price = require_on_tick(positive_krw(price_krw, "limit price"), at)
    volume = positive_btc(volume_btc, "volume") if volume_btc is not None else None
    amount = positive_krw(amount_krw, "amount") if amount_krw is not None else None
    reference = None
    if price is not None and volume is not None:
        total, basis = price * volume, f"{volume} BTC x {price:,} KRW"
    elif amount is not None:
        total, basis = amount, "the KRW amount"
    else:
        if reference_price_krw is None:
            raise InvalidOrderShapeError(
                f"{kind} needs a reference price (the last close) to check the "
                f"{MIN_ORDER_TOTAL_KRW:,} KRW minimum total"
            )
        reference = positive_krw(reference_price_krw, "reference price")
        assert volume is not None  # needed == {"volume"} above
        total, basis = volume * reference, f"{volume} BTC x reference {reference:,} KRW"
    if total < MIN_ORDER_TOTAL_KRW:
        raise OrderBelowMinimumTotalError(
            f"order total {total:,} KRW ({basis}) is below the minimum {MIN_ORDER_TOTAL_KRW:,} KRW"
        )
    if total > MAX_ORDER_TOTAL_KRW:
        raise OrderAboveMaximumTotalError(
            f"order total {total:,} KRW ({basis}) is above the maximum {MAX_ORDER_TOTAL_KRW:,} KRW"
        )
    return OrderTerms(market, side, order_type, price, volume, amount, reference)


def order_total_krw(terms: OrderTerms) -> Decimal:
    """Return the order's notional in KRW (a market ask is valued at its reference price)."""
    if terms.amount_krw is not None:
        return terms.amount_krw
    price = terms.price_krw if terms.price_krw is not None else terms.reference_price_krw
    assert terms.volume_btc is not None and price is not None  # guaranteed by order_terms
    return terms.volume_btc * price
