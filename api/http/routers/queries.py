"""Query endpoints: they read only the read models (never the aggregates).

Lists page with `limit` and an opaque `cursor` (the answer's `next_cursor`); `min_position`
waits until the read models have applied a command's `log_position`. Times are UTC with their
KST twin (`*_kst`, +09:00); amounts are exact decimal strings.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response

from api.http.consistency import MIN_POSITION, WAIT_S
from api.http.errors import ApiError, responses
from api.http.reading import CURSOR, LIMIT, PRINTABLE, Text, listing, queries_of, read
from api.http.views import (
    CapitalView,
    DailyPnlView,
    EventView,
    Listing,
    OrderDetailView,
    OrderView,
    PositionView,
    ProjectionView,
    RiskChangeView,
    RiskStateView,
    SignalView,
)

router = APIRouter(tags=["queries"])


@router.get(
    "/orders",
    response_model=Listing[OrderView],
    summary="List orders, newest first",
    responses=responses(400, 409, 503),
)
async def orders(
    request: Request,
    status: Annotated[
        Literal["NEW", "OPEN", "PARTIAL", "FILLED", "FAILED", "CANCELLED"] | None, Query()
    ] = None,
    strategy_id: Text = None,
    market: Text = None,
    limit: int = LIMIT,
    cursor: str | None = CURSOR,
    min_position: int | None = MIN_POSITION,
    wait_s: float = WAIT_S,
) -> Response:
    """Orders with their status and filled amounts; filter by status, strategy, market."""
    page = await read(
        request,
        ["orders"],
        min_position,
        wait_s,
        lambda q: q.orders(
            status=status, strategy_id=strategy_id, market=market, limit=limit, cursor=cursor
        ),
    )
    return listing(page)


@router.get(
    "/orders/{order_id}",
    response_model=OrderDetailView,
    summary="One order with its fills and status history",
    responses=responses(400, 404, 409, 503),
)
async def order(
    order_id: UUID,
    request: Request,
    min_position: int | None = MIN_POSITION,
    wait_s: float = WAIT_S,
) -> dict[str, Any]:
    """An order, its fills and each status change with its reason and actor."""
    found = await read(request, ["orders"], min_position, wait_s, lambda q: q.order(order_id))
    if found is None:
        raise ApiError(404, "unknown_order", f"no order has id {order_id}")
    return dict(found)


@router.get(
    "/positions",
    response_model=list[PositionView],
    summary="Positions per strategy",
    responses=responses(400, 409, 503),
)
async def positions(
    request: Request,
    strategy_id: Text = None,
    min_position: int | None = MIN_POSITION,
    wait_s: float = WAIT_S,
) -> list[Any]:
    """Quantity, cost basis, realised P&L and fees of each strategy's position."""
    rows = await read(
        request, ["positions"], min_position, wait_s, lambda q: q.positions(strategy_id=strategy_id)
    )
    return list(rows)


@router.get(
    "/pnl/daily",
    response_model=Listing[DailyPnlView],
    summary="Realised P&L per KST trading day",
    responses=responses(400, 409, 503),
)
async def daily_pnl(
    request: Request,
    strategy_id: Text = None,
    limit: int = LIMIT,
    cursor: str | None = CURSOR,
    min_position: int | None = MIN_POSITION,
    wait_s: float = WAIT_S,
) -> Response:
    """Realised P&L, fees and cash movement per strategy per trading day, newest first."""
    page = await read(
        request,
        ["positions"],
        min_position,
        wait_s,
        lambda q: q.daily_pnl(strategy_id=strategy_id, limit=limit, cursor=cursor),
    )
    return listing(page)


@router.get(
    "/capital",
    response_model=list[CapitalView],
    summary="Capital and cash per strategy",
    responses=responses(400, 409, 503),
)
async def capital(
    request: Request, min_position: int | None = MIN_POSITION, wait_s: float = WAIT_S
) -> list[Any]:
    """Each strategy's allocated capital and the cash it holds now."""
    return list(await read(request, ["positions"], min_position, wait_s, lambda q: q.capital()))


@router.get(
    "/signals",
    response_model=Listing[SignalView],
    summary="Strategy signals, newest candle first",
    responses=responses(400, 409, 503),
)
async def signals(
    request: Request,
    strategy_id: Text = None,
    run_id: Text = None,
    limit: int = LIMIT,
    cursor: str | None = CURSOR,
    min_position: int | None = MIN_POSITION,
    wait_s: float = WAIT_S,
) -> Response:
    """Every decision a strategy took, with the candle and the reason."""
    page = await read(
        request,
        ["signals"],
        min_position,
        wait_s,
        lambda q: q.signals(strategy_id=strategy_id, run_id=run_id, limit=limit, cursor=cursor),
    )
    return listing(page)


@router.get(
    "/risk",
    response_model=list[RiskStateView],
    summary="Risk limits and trading state",
    responses=responses(400, 409, 503),
)
async def risk(
    request: Request, min_position: int | None = MIN_POSITION, wait_s: float = WAIT_S
) -> list[Any]:
    """The current limits and trading state (ACTIVE, REDUCING, HALTED) of each account."""
    return list(await read(request, ["risk"], min_position, wait_s, lambda q: q.risk_state()))


@router.get(
    "/risk/history",
    response_model=Listing[RiskChangeView],
    summary="Every change of limits and trading state",
    responses=responses(400, 409, 503),
)
async def risk_history(
    request: Request,
    limit: int = LIMIT,
    cursor: str | None = CURSOR,
    min_position: int | None = MIN_POSITION,
    wait_s: float = WAIT_S,
) -> Response:
    """Limit changes and state changes, newest first, with actor and reason."""
    page = await read(
        request,
        ["risk"],
        min_position,
        wait_s,
        lambda q: q.risk_history(limit=limit, cursor=cursor),
    )
    return listing(page)


@router.get(
    "/events",
    response_model=Listing[EventView],
    summary="The events of one flow, by correlation id",
    responses=responses(400, 409, 503),
)
async def events(
    request: Request,
    correlation_id: Annotated[str, Query(min_length=1, max_length=200, pattern=PRINTABLE)],
    limit: int = LIMIT,
    cursor: str | None = CURSOR,
    min_position: int | None = MIN_POSITION,
    wait_s: float = WAIT_S,
) -> Response:
    """From a fill back to the order, signal and candle that caused it, in log order."""
    page = await read(
        request,
        ["timeline"],
        min_position,
        wait_s,
        lambda q: q.events(correlation_id=correlation_id, limit=limit, cursor=cursor),
    )
    return listing(page)


@router.get(
    "/projections",
    response_model=list[ProjectionView],
    summary="How far each read model has applied the log",
    responses=responses(503),
)
async def projections(request: Request) -> list[dict[str, Any]]:
    """Each read model's position and how many events it is behind the log."""
    from projections.catalogue import PROJECTIONS

    system = request.app.state.system
    head = await asyncio.to_thread(system.trading.recorder.max_notification_id) or 0
    reached = await asyncio.to_thread(queries_of(request).positions_of, list(PROJECTIONS))
    return [{"name": n, "position": p, "behind": head - p} for n, p in reached.items()]
