"""The Signal aggregate: a strategy's decision to place an order, as an event.

`strategy.signal.created` carries the candle that triggered it, the decision time (that
candle's close), what was asked for, and the reference price the rule wanted (strategies.md
"Decision time"). Its id is uuid5 of the run, the strategy, the candle and its rank.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.events import Cause, LedgerCreated, create_aggregate
from domain.ids import derive_id
from domain.strategies.base import OrderIntent


class Signal(Aggregate):
    """One decision of one strategy in one run."""

    class Created(LedgerCreated):
        """A strategy decided to place an order."""

        TOPIC = "strategy.signal.created"
        run_id: str
        strategy_id: str
        market: str
        candle_open_time: datetime
        side: str
        order_type: str
        price_krw: Decimal | None
        volume_btc: Decimal | None
        amount_krw: Decimal | None
        reference_price_krw: Decimal
        reason: str
        tag: str

        def apply(self, signal: Signal) -> None:
            """Evolve the signal's state by this event."""
            signal.run_id = self.run_id
            signal.strategy_id = self.strategy_id
            signal.reason = self.reason

    run_id: str
    strategy_id: str
    reason: str

    def __init__(self) -> None:
        """State is set by the Created event; see `create`."""

    @classmethod
    def create(
        cls,
        *,
        run_id: str,
        strategy_id: str,
        market: str,
        candle_open_time: datetime,
        rank: int,
        intent: OrderIntent,
        cause: Cause,
    ) -> Signal:
        """Record a decision; `rank` orders the signals of one strategy at one candle."""
        return create_aggregate(
            cls,
            cls.Created,
            id=signal_id(run_id, strategy_id, candle_open_time, rank),
            run_id=run_id,
            strategy_id=strategy_id,
            market=market,
            candle_open_time=candle_open_time,
            side=intent.side.value,
            order_type=intent.order_type.value,
            price_krw=intent.price_krw,
            volume_btc=intent.volume_btc,
            amount_krw=intent.amount_krw,
            reference_price_krw=intent.reference_price_krw,
            reason=intent.reason,
            tag=intent.tag,
            **cause.event_fields(),
        )


def signal_id(run_id: str, strategy_id: str, candle_open_time: datetime, rank: int) -> UUID:
    """Return the id of a strategy's `rank`-th signal at a candle of a run."""
    return derive_id("signal", run_id, strategy_id, candle_open_time.isoformat(), str(rank))
