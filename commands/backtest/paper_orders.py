"""The engine's view of one resting paper order: what remains, and how a candle fills it."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

from domain.candles.candle import Candle
from domain.fills.paper_fill_model import FillModel, PaperFill
from domain.orders.terms import OrderSide, OrderType


@dataclass
class PaperOrder:
    """A placed order the paper exchange works, in placement order."""

    order_id: UUID
    strategy: str
    tag: str
    signal_id: UUID
    side: OrderSide
    order_type: OrderType
    price_krw: Decimal | None
    remaining_btc: Decimal
    """For volume orders: BTC still to fill."""
    remaining_krw: Decimal
    """For market bids: KRW still to spend (amount - funds of fills so far)."""
    placed_at_index: int
    fills: int = 0
    is_acknowledged: bool = False
    """True once the exchange acknowledged it (OPEN in the ledger)."""

    def fill_in(self, candle: Candle, model: FillModel) -> PaperFill | None:
        """Return how `candle` fills this order under the paper model (None: no fill)."""
        if self.order_type is OrderType.MARKET:
            if self.side is OrderSide.BID:
                return model.market_buy(self.remaining_krw, candle)
            return model.market_sell(self.remaining_btc, candle)
        assert self.price_krw is not None
        if self.side is OrderSide.BID:
            return model.limit_buy(self.price_krw, self.remaining_btc, candle)
        return model.limit_sell(self.price_krw, self.remaining_btc, candle)

    def apply(self, qty_btc: Decimal, price_krw: Decimal) -> None:
        """Take a fill of `qty_btc` at `price_krw` off what remains."""
        self.fills += 1
        self.remaining_btc -= qty_btc
        self.remaining_krw -= qty_btc * price_krw
