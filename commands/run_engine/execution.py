"""How the engine's orders are executed: the paper fill model, or an exchange behind its port.

The engine decides and records; an `Execution` says what became of each working order at a
candle's close: its acknowledgement, its fills dated up to that close, and whether it ended
without filling in full. The paper execution is the backtest's; the exchange execution (issue
7) puts the same decisions through `ExchangeGateway`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from commands.run_engine.working_orders import WorkingOrder
from domain.candles.candle import Candle


@dataclass(frozen=True)
class ExecutedFill:
    """One fill of a working order, as the execution reports it."""

    trade_id: str
    price_krw: Decimal
    qty_btc: Decimal
    fee_krw: Decimal
    executed_at: datetime
    is_complete: bool | None = None
    """True/False when the execution knows whether it completed the order; None: ask the ledger."""


@dataclass(frozen=True)
class Acknowledgement:
    """The exchange took the order (OPEN), or refused it for good (`refusal` set), or neither.

    With neither (`exchange_order_id` and `refusal` both None) the outcome is unknown: the
    order stays NEW and is looked up by its id before anything is sent again.
    """

    exchange_order_id: str | None = None
    accepted_at: datetime | None = None
    refusal: tuple[str, str] | None = None
    """(code, message) of a permanent refusal."""
    failure: str | None = None
    """Why the sending got no answer (the outcome is unknown), when it did not."""


class Execution(Protocol):
    """Where the engine's working orders go, and what comes back."""

    actor: str
    """Names the execution in the events it causes (`paper-exchange`, `exchange:sandbox`)."""

    def prepare(self, candle: Candle, working: list[WorkingOrder]) -> None:
        """Learn what happened to the working orders up to this candle's close."""

    def submit(self, order: WorkingOrder, candle: Candle) -> Acknowledgement:
        """Send a placed order (decided at `candle`'s close) to be executed.

        An exchange holds it until `send_held` (it answers "unknown" meanwhile), so the order
        is sent only once the log holds it; the engine hands it over again to take the answer.
        """

    def send_held(self, working: list[WorkingOrder]) -> int:
        """Send the orders `submit` held that are still working; return how many were sent."""

    def fills(self, order: WorkingOrder, candle: Candle) -> list[ExecutedFill]:
        """Return the order's fills not yet taken, dated up to this candle's close, in order."""

    def ended(self, order: WorkingOrder, candle: Candle) -> str | None:
        """Return why the order ended without filling in full at this close, else None."""

    def cancel(self, order: WorkingOrder) -> None:
        """Withdraw the order's unfilled remainder (before the ledger records the cancel)."""
