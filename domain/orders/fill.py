"""A fill: one execution of an order, as the exchange (or the paper model) reported it."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Fill:
    """One execution of an order, as the exchange (or the paper model) reported it."""

    trade_id: str
    price_krw: Decimal
    qty_btc: Decimal
    fee_krw: Decimal

    @property
    def funds_krw(self) -> Decimal:
        """Return the KRW value of the fill before its fee."""
        return self.qty_btc * self.price_krw
