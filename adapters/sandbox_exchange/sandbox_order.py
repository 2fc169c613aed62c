"""One order at the sandbox exchange: Upbit's order object, its fills, and what it holds locked.

Amounts follow the recorded traffic (upbit-api.md §5.3, §5.6): a bid locks its KRW plus the fee
on it (`locked = remaining x (1 + fee)`), an ask locks its BTC; a market bid (`ord_type=price`)
keeps its KRW remainder, and ends `cancel` when what is left cannot buy 1e-8 BTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

KST = timedelta(hours=9)
ZERO = Decimal(0)


def decimal_text(value: Decimal) -> str:
    """Return a decimal as Upbit writes amounts: plain digits, no exponent, no trailing zeros."""
    if value == 0:
        return "0"
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def kst_text(at: datetime) -> str:
    """Return a time as Upbit's `created_at`: ISO in KST with `+09:00`."""
    return (at + KST).strftime("%Y-%m-%dT%H:%M:%S+09:00")


@dataclass(frozen=True)
class SandboxTrade:
    """One fill: its id, price (KRW), volume (BTC) and funds (price x volume, KRW)."""

    uuid: str
    price: Decimal
    volume: Decimal
    funds: Decimal
    created_at: datetime


@dataclass
class SandboxOrder:
    """An order as the sandbox holds it, from placement to `done` or `cancel`."""

    uuid: str
    identifier: str | None
    market: str
    side: str
    ord_type: str
    price: Decimal | None
    """The limit price, or for `ord_type=price` the KRW amount to spend."""
    volume: Decimal | None
    fee_rate: Decimal
    created_at: datetime
    next_index: int
    """The tape index of the next candle that may fill it (from the minute of its creation)."""
    state: str = "wait"
    executed_volume: Decimal = ZERO
    executed_funds: Decimal = ZERO
    paid_fee: Decimal = ZERO
    closed_at: datetime | None = None
    trades: list[SandboxTrade] = field(default_factory=list)
    final_locked: Decimal | None = None
    """What the order held when it was cancelled (Upbit keeps showing it); 0 when done."""

    @property
    def is_open(self) -> bool:
        """Return whether the order still rests (`wait`)."""
        return self.state == "wait"

    @property
    def remaining_volume(self) -> Decimal | None:
        """Return the BTC still to fill (None for a market bid, which has no volume)."""
        return None if self.volume is None else self.volume - self.executed_volume

    @property
    def remaining_krw(self) -> Decimal:
        """Return, for a market bid, the KRW still to spend."""
        assert self.price is not None
        return self.price - self.executed_funds

    @property
    def reserved_fee(self) -> Decimal:
        """Return the fee reserved at placement (bids only; asks pay theirs from proceeds)."""
        if self.side == "ask":
            return ZERO
        assert self.price is not None
        total = self.price if self.volume is None else self.price * self.volume
        return total * self.fee_rate

    @property
    def remaining_fee(self) -> Decimal:
        """Return the fee still reserved for the unfilled part."""
        if self.side == "ask":
            return ZERO
        return self._remaining_cost() * self.fee_rate

    @property
    def locked(self) -> Decimal:
        """Return what the order holds: KRW with fee for a bid, BTC for an ask."""
        if self.final_locked is not None:
            return self.final_locked
        if self.side == "ask":
            remaining = self.remaining_volume
            assert remaining is not None
            return remaining
        return self._remaining_cost() + self.remaining_fee

    def _remaining_cost(self) -> Decimal:
        assert self.price is not None
        if self.volume is None:
            return self.remaining_krw
        remaining = self.remaining_volume
        assert remaining is not None
        return remaining * self.price

    def body(self, *, with_trades: bool = False, with_funds: bool = False) -> dict[str, Any]:
        """Return Upbit's order object; `trades` for GET /v1/order, `executed_funds` for lists."""
        body: dict[str, Any] = {"uuid": self.uuid, "side": self.side, "ord_type": self.ord_type}
        if self.price is not None:
            body["price"] = decimal_text(self.price)
        body.update(state=self.state, market=self.market, created_at=kst_text(self.created_at))
        if self.volume is not None:
            remaining = self.remaining_volume
            assert remaining is not None
            body.update(
                volume=decimal_text(self.volume),
                remaining_volume=decimal_text(remaining),
                prevented_volume="0",
            )
        body.update(
            reserved_fee=decimal_text(self.reserved_fee),
            remaining_fee=decimal_text(self.remaining_fee),
            paid_fee=decimal_text(self.paid_fee),
            locked=decimal_text(self.locked),
            prevented_locked="0",
            executed_volume=decimal_text(self.executed_volume),
        )
        if with_funds:
            body["executed_funds"] = decimal_text(self.executed_funds)
        body["trades_count"] = len(self.trades)
        if self.identifier is not None:
            body["identifier"] = self.identifier
        if with_trades:
            body["trades"] = [
                {
                    "market": self.market,
                    "uuid": trade.uuid,
                    "price": decimal_text(trade.price),
                    "volume": decimal_text(trade.volume),
                    "funds": decimal_text(trade.funds),
                    "trend": "up" if self.side == "bid" else "down",
                    "created_at": kst_text(trade.created_at),
                    "side": self.side,
                }
                for trade in self.trades
            ]
        return body
