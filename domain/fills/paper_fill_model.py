"""The paper fill model: how one candle fills an order placed before it (strategies.md).

An order decided at the close of candle c fills from candle c+1 on. Market orders fill at the
next open with slippage; limit orders when the candle touches their price, at the better of
the limit and the open. With `max_participation` set, one candle fills at most
`floor8(max_participation x volume)` of an order (clarification 6). Arithmetic follows the
formulas in the order written, in the default 28-digit Decimal context (clarification 3).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from domain.candles.candle import Candle
from domain.constants import DEFAULT_FEE_RATE
from domain.money import floor8

ZERO = Decimal(0)


@dataclass(frozen=True)
class FillModel:
    """The model's parameters: fee rate, slippage on market orders, volume participation."""

    fee_rate: Decimal = DEFAULT_FEE_RATE
    slippage_bps: Decimal = ZERO
    max_participation: Decimal | None = None

    def __post_init__(self) -> None:
        if self.fee_rate < 0:
            raise ValueError(f"fee rate {self.fee_rate} must not be negative")
        if self.slippage_bps < 0:
            raise ValueError(f"slippage {self.slippage_bps} bps must not be negative")
        if self.max_participation is not None and not ZERO < self.max_participation <= 1:
            raise ValueError(f"max participation {self.max_participation} must be in (0, 1]")

    def cap(self, candle: Candle) -> Decimal | None:
        """Return the most one order may fill in `candle`, or None without a cap."""
        if self.max_participation is None:
            return None
        return floor8(self.max_participation * candle.volume)

    def fee(self, qty: Decimal, price: Decimal) -> Decimal:
        """Return the fee of a fill: `q x p x fee_rate`, unrounded."""
        return qty * price * self.fee_rate

    def market_buy(self, remaining_krw: Decimal, candle: Candle) -> PaperFill | None:
        """Fill a market buy with `remaining_krw` left to spend, at this candle's open."""
        price = candle.open * (1 + self.slippage_bps / 10000)
        wanted = floor8(remaining_krw / price)
        return self._fill(price, wanted, candle, completes_at=wanted)

    def market_sell(self, remaining_btc: Decimal, candle: Candle) -> PaperFill | None:
        """Fill a market sell of `remaining_btc` at this candle's open."""
        price = candle.open * (1 - self.slippage_bps / 10000)
        return self._fill(price, remaining_btc, candle, completes_at=remaining_btc)

    def limit_buy(self, limit: Decimal, remaining_btc: Decimal, candle: Candle) -> PaperFill | None:
        """Fill a limit buy when `low <= limit`, at `min(limit, open)`."""
        if candle.low > limit:
            return None
        return self._fill(min(limit, candle.open), remaining_btc, candle, remaining_btc)

    def limit_sell(
        self, limit: Decimal, remaining_btc: Decimal, candle: Candle
    ) -> PaperFill | None:
        """Fill a limit sell when `high >= limit`, at `max(limit, open)`."""
        if candle.high < limit:
            return None
        return self._fill(max(limit, candle.open), remaining_btc, candle, remaining_btc)

    def _fill(
        self, price: Decimal, wanted: Decimal, candle: Candle, completes_at: Decimal
    ) -> PaperFill | None:
        cap = self.cap(candle)
        qty = wanted if cap is None else min(wanted, cap)
        if qty <= 0:
            return None
        return PaperFill(
            price=price, qty=qty, fee=self.fee(qty, price), is_complete=qty == completes_at
        )


@dataclass(frozen=True)
class PaperFill:
    """One paper fill: price (KRW), quantity (BTC), fee (KRW), and whether it completes."""

    price: Decimal
    qty: Decimal
    fee: Decimal
    is_complete: bool
