"""Fixtures of the unit tier: fresh Trading applications on the in-memory event store."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from commands.trading import Trading
from tests.builders import allocate_capital, trading_app


@pytest.fixture
def bare_trading() -> Iterator[Trading]:
    """A Trading application with an empty log: no ledger, no capital, no risk record."""
    app = trading_app()
    yield app
    app.close()


@pytest.fixture
def trading(bare_trading: Trading) -> Trading:
    """A Trading application whose strategy `alpha` was allocated 10,000,000 KRW."""
    bare_trading.allocate_capital(allocate_capital())
    return bare_trading
