"""Every read model the system keeps, by name (the projectors and `ledger projections` use it)."""

from __future__ import annotations

from types import MappingProxyType

from projections.candles_view import CandlesProjection
from projections.orders_view import OrdersProjection
from projections.positions_view import PositionsProjection
from projections.projection import Projection
from projections.reconciliations_view import ReconciliationsProjection
from projections.risk_view import RiskProjection
from projections.signals_view import SignalsProjection
from projections.timeline_view import EventTimelineProjection

PROJECTIONS: MappingProxyType[str, type[Projection]] = MappingProxyType(
    {
        cls.name: cls
        for cls in (
            EventTimelineProjection,
            OrdersProjection,
            SignalsProjection,
            PositionsProjection,
            RiskProjection,
            CandlesProjection,
            ReconciliationsProjection,
        )
    }
)
"""Projection name -> class."""


def projection_named(name: str) -> Projection:
    """Return a new instance of the projection called `name`.

    Raises:
        KeyError: no projection has that name (the message lists the names).
    """
    try:
        return PROJECTIONS[name]()
    except KeyError:
        raise KeyError(
            f"no read model is called {name!r}; the read models are {', '.join(PROJECTIONS)}"
        ) from None
