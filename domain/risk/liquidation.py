"""Liquidation while REDUCING: the market asks that sell a strategy's whole position.

The asks obey the same rules as every order: each total (volume x the close) at most the
per-order notional limit and Upbit's maximum total, at least the minimum total. A position is
split into as few asks as fit the cap, equal to the satoshi (the larger ones first); a part below
the minimum total is dust that no order can sell, so a position of only dust counts as flat.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal

from domain.constants import BTC_QUANTUM, MAX_ORDER_TOTAL_KRW, MIN_ORDER_TOTAL_KRW
from domain.money import floor8


def liquidation_volumes(
    qty_btc: Decimal, close_krw: Decimal, max_order_krw: Decimal | None
) -> list[Decimal]:
    """Return the BTC volumes of the market asks that sell `qty_btc` at `close_krw`.

    Empty when nothing can be sold (no BTC, or only dust below the minimum order total).
    """
    cap = MAX_ORDER_TOTAL_KRW if max_order_krw is None else min(max_order_krw, MAX_ORDER_TOTAL_KRW)
    total = qty_btc * close_krw
    if total < MIN_ORDER_TOTAL_KRW or cap < MIN_ORDER_TOTAL_KRW:
        return []  # dust, or no order can be both above the minimum and within the cap
    count = int((total / cap).to_integral_value(rounding=ROUND_CEILING))
    while True:
        part = floor8(qty_btc / count)
        extra = int((qty_btc - part * count) / BTC_QUANTUM)  # satoshis left: fewer than count
        if (part + (BTC_QUANTUM if extra else 0)) * close_krw <= cap:
            break
        count += 1
    parts = [part + BTC_QUANTUM] * extra + [part] * (count - extra)
    return [p for p in parts if p * close_krw >= MIN_ORDER_TOTAL_KRW]


def is_flat(qty_btc: Decimal, close_krw: Decimal, max_order_krw: Decimal | None) -> bool:
    """Return True when no ask could sell any of the position at this close."""
    return not liquidation_volumes(qty_btc, close_krw, max_order_krw)
