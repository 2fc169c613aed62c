"""Strategy signals (`rm_signals`): what each strategy decided, at which candle, and why."""

from __future__ import annotations

from typing import ClassVar

from domain.events import LedgerEvent
from domain.strategies.signal import Signal
from projections.projection import Projection
from projections.rows import Insert, RowOp


class SignalsProjection(Projection):
    """One row per `strategy.signal.created`."""

    name: ClassVar[str] = "signals"
    tables: ClassVar[tuple[str, ...]] = ("rm_signals",)

    def rows(self, event: LedgerEvent, position: int) -> list[RowOp]:
        """Record a signal; nothing for other events."""
        if not isinstance(event, Signal.Created):
            return []
        return [
            Insert(
                "rm_signals",
                {
                    "signal_id": event.originator_id,
                    "run_id": event.run_id,
                    "strategy_id": event.strategy_id,
                    "market": event.market,
                    "candle_open_time": event.candle_open_time,
                    "side": event.side,
                    "order_type": event.order_type,
                    "price_krw": event.price_krw,
                    "volume_btc": event.volume_btc,
                    "amount_krw": event.amount_krw,
                    "reference_price_krw": event.reference_price_krw,
                    "reason": event.reason,
                    "tag": event.tag,
                    "created_at": event.occurred_at,
                    "correlation_id": event.correlation_id,
                    "position": position,
                },
            )
        ]
