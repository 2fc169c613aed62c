"""The paper execution: orders filled by the paper fill model of strategies.md, in process.

An order is acknowledged at its decision time (strategies-notes.md "Acknowledgement") and fills
from the next candle on; trade ids are `paper:<order id>:<n>`. A market bid whose KRW remainder
buys less than 1e-8 BTC ends (clarification 6), cancelled as Upbit cancels such an order.
"""

from __future__ import annotations

from commands.run_engine.execution import Acknowledgement, ExecutedFill
from commands.run_engine.working_orders import WorkingOrder
from domain.candles.candle import Candle
from domain.fills.paper_fill_model import FillModel
from domain.money import floor8
from domain.orders.terms import OrderSide, OrderType

DUST_REASON = "remainder buys less than 1e-8 BTC"


class PaperExecution:
    """Fills working orders candle by candle with one `FillModel`."""

    actor = "paper-exchange"

    def __init__(self, model: FillModel) -> None:
        self.model = model

    def prepare(self, candle: Candle, working: list[WorkingOrder]) -> None:
        """Nothing to learn: the model fills from the candle itself."""

    def submit(self, order: WorkingOrder, candle: Candle) -> Acknowledgement:
        """Accept the order at its decision time."""
        return Acknowledgement(f"paper-{order.order_id}", candle.close_time)

    def send_held(self, working: list[WorkingOrder]) -> int:
        """Nothing is held: the model accepts each order as it is placed."""
        return 0

    def fills(self, order: WorkingOrder, candle: Candle) -> list[ExecutedFill]:
        """Return the model's fill of the order in this candle, if any."""
        fill = order.fill_in(candle, self.model)
        if fill is None:
            return []
        trade_id = f"paper:{order.order_id}:{order.fills + 1}"
        return [
            ExecutedFill(
                trade_id, fill.price, fill.qty, fill.fee, candle.close_time, fill.is_complete
            )
        ]

    def ended(self, order: WorkingOrder, candle: Candle) -> str | None:
        """Return the dust reason for a filled market bid that can buy nothing more."""
        if order.order_type is not OrderType.MARKET or order.side is not OrderSide.BID:
            return None
        price = candle.open * (1 + self.model.slippage_bps / 10000)
        if floor8(order.remaining_krw / price) > 0 or order.fills == 0:
            return None
        return DUST_REASON

    def cancel(self, order: WorkingOrder) -> None:
        """Nothing to withdraw: the model simply stops filling the order."""
