"""The engine's view of one working order of the run: what remains, and how a candle fills it.

With the paper fill model the candle fills it (`fill_in`); on an exchange the exchange does,
and this is what the engine knows of it. `next_fill` is the fast path's side: the first candle
of a tape that can fill the order.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

import numpy as np
import numpy.typing as npt

from domain.candles.candle import Candle
from domain.candles.tape import CandleTape, slack
from domain.fills.paper_fill_model import FillModel, PaperFill
from domain.orders.terms import OrderSide, OrderType


@dataclass(eq=False)
class WorkingOrder:
    """A placed order of the run still working, in placement order (equal only to itself)."""

    order_id: UUID
    strategy: str
    tag: str
    flow: str
    """The correlation id of its events: its signal's id, or the risk monitor's flow."""
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
    filled_btc: Decimal = Decimal(0)
    placed_by_risk: bool = False
    """True for the risk monitor's liquidation asks (not a decision of the strategy)."""
    handed: int = 0
    """How many times the engine handed it to its execution: after the first, an exchange
    looks it up before sending it (an earlier process may have sent it)."""

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
        self.filled_btc += qty_btc
        self.remaining_btc -= qty_btc
        self.remaining_krw -= qty_btc * price_krw

    def next_fill(self, index: int, tape: CandleTape, model: FillModel) -> int:
        """Return the first candle after `index` that can fill the order, else len(tape).

        The float scan has a margin wider than its error; the exact model decides there.
        """
        start = max(index + 1, self.placed_at_index + 1)
        needs_volume = model.max_participation is not None
        if self.order_type is OrderType.MARKET:
            return start
        assert self.price_krw is not None
        price = float(self.price_krw)
        margin = slack(price)
        if self.side is OrderSide.BID:

            def touched(w: slice) -> npt.NDArray[np.bool_]:
                hit = tape.low[w] <= price + margin
                return hit & (tape.volume[w] > 0) if needs_volume else hit
        else:

            def touched(w: slice) -> npt.NDArray[np.bool_]:
                hit = tape.high[w] >= price - margin
                return hit & (tape.volume[w] > 0) if needs_volume else hit

        return tape.scan(start, touched)
