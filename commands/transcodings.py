"""How the domain's enums are stored in snapshots: by name, and restored as the same enum."""

from __future__ import annotations

from enum import Enum
from typing import Any

from eventsourcing.persistence import Transcoding

from domain.orders.status import OrderStatus
from domain.orders.terms import OrderSide, OrderType
from domain.risk.trading_state import TradingState

STORED_ENUMS: tuple[type[Enum], ...] = (OrderStatus, OrderSide, OrderType, TradingState)


class EnumTranscoding(Transcoding):
    """Encode one Enum class by member name."""

    def __init__(self, enum_class: type[Enum]) -> None:
        self.type = enum_class
        self.enum_class = enum_class
        self.name = f"enum_{enum_class.__name__}"

    def encode(self, obj: Any) -> str:
        """Return the member's name."""
        return str(obj.name)

    def decode(self, data: Any) -> Enum:
        """Return the member with this name."""
        return self.enum_class[data]
