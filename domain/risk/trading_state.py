"""The account's trading state: what orders the risk rules let through."""

from __future__ import annotations

from enum import Enum


class TradingState(Enum):
    """ACTIVE trades freely; REDUCING only lowers exposure; HALTED places nothing."""

    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"
    HALTED = "HALTED"
