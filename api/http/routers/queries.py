"""Query endpoints: they read only the read models (never the aggregates).

Lists page with `limit` and an opaque `cursor` (the answer's `next_cursor`); `min_position`
waits until the read models have applied a command's `log_position`. Times are UTC with their
KST twin (`*_kst`, +09:00); amounts are exact decimal strings.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response

from api.http.consistency import MIN_POSITION, WAIT_S, wait_for
from api.http.errors import ApiError, responses
from api.http.views import (
    CandleView,
    CapitalView,
    DailyPnlView,
    EquityPointView,
    EventView,
    Listing,
    OrderDetailView,
    OrderView,
    PositionView,
    ProjectionView,
    ReconciliationView,
    RiskChangeView,
    RiskStateView,
    SignalView,
)
from projections.queries import Page

router = APIRouter(tags=["queries"])
T = TypeVar("T")
LIMIT = Query(100, ge=1, le=1000, description="rows per page")
CURSOR = Query(
    None,
    max_length=500,
    pattern=r"^[A-Za-z0-9_-]*$",
    description="next_cursor of the previous page",
)
PRINTABLE = r"^[^\x00-\x1f\x7f]*$"
Text = Annotated[str | None, Query(max_length=64, pattern=PRINTABLE)]
Market = Annotated[str, Query(pattern=r"^KRW-[A-Z0-9]{1,10}$")]
From = Annotated[datetime | None, Query(alias="from", description="UTC, inclusive")]
To = Annotated[datetime | None, Query(alias="to", description="UTC, exclusive")]


def _queries(request: Request) -> Any:
    queries = request.app.state.system.queries
    if queries is None:
        raise ApiError(503, "read_models_unavailable", "this API runs without read models")
    return queries


async def _read(
    request: Request,
    models: list[str],
    min_position: int | None,
    wait_s: float,
    ask: Callable[[Any], T],
) -> T:
    """Wait until `models` have applied `min_position`; then ask the read models, off the loop."""
    await wait_for(request, models, min_position, wait_s)
    queries = _queries(request)
    return await asyncio.to_thread(ask, queries)


def _utc(**times: datetime | None) -> None:
    for name, value in times.items():
        if value is not None and value.tzinfo is None:
            raise ApiError(400, "invalid_request", f"{name} {value.isoformat()} needs a UTC offset")


def _listing(page: Page) -> Response:
    # Rows come typed from the database, in the documented shape: serialise them directly
    # (validating every row through the response model costs more than the query).
    body = {"items": list(page.rows), "next_cursor": page.next_cursor}
    return Response(json.dumps(body, default=_json_value), media_type="application/json")


def _json_value(value: object) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal | UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not serialisable")


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
    page = await _read(
        request,
        ["orders"],
        min_position,
        wait_s,
        lambda q: q.orders(
            status=status, strategy_id=strategy_id, market=market, limit=limit, cursor=cursor
        ),
    )
    return _listing(page)


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
    found = await _read(request, ["orders"], min_position, wait_s, lambda q: q.order(order_id))
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
    rows = await _read(
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
    page = await _read(
        request,
        ["positions"],
        min_position,
        wait_s,
        lambda q: q.daily_pnl(strategy_id=strategy_id, limit=limit, cursor=cursor),
    )
    return _listing(page)


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
    return list(await _read(request, ["positions"], min_position, wait_s, lambda q: q.capital()))


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
    page = await _read(
        request,
        ["signals"],
        min_position,
        wait_s,
        lambda q: q.signals(strategy_id=strategy_id, run_id=run_id, limit=limit, cursor=cursor),
    )
    return _listing(page)


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
    return list(await _read(request, ["risk"], min_position, wait_s, lambda q: q.risk_state()))


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
    page = await _read(
        request,
        ["risk"],
        min_position,
        wait_s,
        lambda q: q.risk_history(limit=limit, cursor=cursor),
    )
    return _listing(page)


@router.get(
    "/reconciliations",
    response_model=Listing[ReconciliationView],
    summary="Reconciliations of trading runs with their exchanges, newest first",
    responses=responses(400, 409, 503),
)
async def reconciliations(
    request: Request,
    run_id: Text = None,
    limit: int = LIMIT,
    cursor: str | None = CURSOR,
    min_position: int | None = MIN_POSITION,
    wait_s: float = WAIT_S,
) -> Response:
    """Each reconciliation with its differences, balances and acknowledgement.

    One with `unexplained` > 0 and not `is_acknowledged` waits for an operator
    (POST /reconciliations/{id}/acknowledge); while it does, trading stays HALTED.
    """
    page = await _read(
        request,
        ["reconciliations"],
        min_position,
        wait_s,
        lambda q: q.reconciliations(run_id=run_id, limit=limit, cursor=cursor),
    )
    return _listing(page)


@router.get(
    "/candles",
    response_model=Listing[CandleView],
    summary="Candles by minute, hour or Upbit day",
    responses=responses(400, 409, 503),
)
async def candles(
    request: Request,
    market: Market = "KRW-BTC",
    interval: Literal["1m", "1h", "1d"] = "1m",
    start: From = None,
    end: To = None,
    limit: int = LIMIT,
    cursor: str | None = CURSOR,
    min_position: int | None = MIN_POSITION,
    wait_s: float = WAIT_S,
) -> Response:
    """Candles of the log, oldest first; days run from 00:00 UTC (09:00 KST)."""
    _utc(**{"from": start, "to": end})
    page = await _read(
        request,
        ["candles"],
        min_position,
        wait_s,
        lambda q: q.candles(
            market=market, interval=interval, start=start, end=end, limit=limit, cursor=cursor
        ),
    )
    return _listing(page)


@router.get(
    "/equity",
    response_model=Listing[EquityPointView],
    summary="Equity curve: the book marked at each hour's or day's close",
    responses=responses(400, 409, 503),
)
async def equity(
    request: Request,
    account: Annotated[
        str | None,
        Query(pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="default: this API's account"),
    ] = None,
    strategy_id: Annotated[
        str | None, Query(max_length=64, pattern=PRINTABLE, description="default: all")
    ] = None,
    market: Market = "KRW-BTC",
    interval: Literal["1h", "1d"] = "1h",
    start: From = None,
    end: To = None,
    limit: int = LIMIT,
    cursor: str | None = CURSOR,
    min_position: int | None = MIN_POSITION,
    wait_s: float = WAIT_S,
) -> Response:
    """Cash + BTC held x close at each candle close, oldest first, from the book's first change.

    Of one strategy, or of every strategy of the account; marked when asked, with the closes of
    the candle read model (an hour or day still open moves until it closes).
    """
    _utc(**{"from": start, "to": end})
    owner = account or request.app.state.system.settings.trading.account
    page = await _read(
        request,
        ["positions", "candles"],
        min_position,
        wait_s,
        lambda q: q.equity_curve(
            account=owner,
            strategy_id=strategy_id,
            market=market,
            interval=interval,
            start=start,
            end=end,
            limit=limit,
            cursor=cursor,
        ),
    )
    return _listing(page)


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
    page = await _read(
        request,
        ["timeline"],
        min_position,
        wait_s,
        lambda q: q.events(correlation_id=correlation_id, limit=limit, cursor=cursor),
    )
    return _listing(page)


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
    reached = await asyncio.to_thread(_queries(request).positions_of, list(PROJECTIONS))
    return [{"name": n, "position": p, "behind": head - p} for n, p in reached.items()]
