"""A portfolio limit crossed at one candle close: which limit, by how much, and what it does."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import Enum

from domain.risk.trading_state import TradingState


class LimitCode(Enum):
    """The portfolio limit a breach crossed (the coded reason of its event)."""

    DAILY_LOSS = "daily_loss"
    DRAWDOWN = "drawdown"
    EXPOSURE = "exposure"


class BreachAction(Enum):
    """What a breach does to trading."""

    HALT = "halt"
    REDUCE = "reduce"
    BLOCK_BIDS = "block_bids"

    @property
    def state(self) -> TradingState | None:
        """Return the trading state the action moves to; None: it changes no state."""
        return _STATE_OF.get(self)


_STATE_OF = {BreachAction.HALT: TradingState.HALTED, BreachAction.REDUCE: TradingState.REDUCING}


@dataclass(frozen=True)
class Breach:
    """A limit crossed at one candle close."""

    limit: LimitCode
    strategy_id: str
    """The strategy for an exposure breach; empty for the account's limits."""
    measured: Decimal
    threshold: Decimal
    action: BreachAction
    candle_open_time: datetime

    def describe(self) -> str:
        """Return the breach as a reason a person can read, e.g. for the halt event."""
        # Numbers as plain decimals: a loss computed from an exchange's fees ("5.0000") and
        # one from the fill model's are the same number, and must read the same.
        who = f"strategy {self.strategy_id}'s " if self.strategy_id else ""
        measured, threshold = _plain(self.measured), _plain(self.threshold)
        return (
            f"{who}{self.limit.value} {measured} reached the limit {threshold} at the "
            f"candle of {self.candle_open_time.isoformat()}: {self.action.value}"
        )


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")
