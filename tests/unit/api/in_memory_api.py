"""The HTTP API over an in-memory log, for unit tests: its token and an order it accepts."""

from __future__ import annotations

from api.bootstrap import System
from api.settings import load_settings
from commands.run_engine.run_model import IN_MEMORY_ENV
from commands.trading import Trading

TOKEN = "unit-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ORDER = {
    "strategy_id": "alpha",
    "side": "bid",
    "order_type": "limit",
    "price_krw": "50000000",
    "volume_btc": "0.001",
}


def in_memory_system() -> System:
    """Return a system whose log is in memory and whose command API takes TOKEN."""
    return System(load_settings(overrides={"api": {"token": TOKEN}}), Trading(IN_MEMORY_ENV))
