"""Query endpoints of time series: candles and the equity curve, from the read models."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response

from api.http.consistency import MIN_POSITION, WAIT_S
from api.http.errors import responses
from api.http.reading import (
    CURSOR,
    LIMIT,
    PRINTABLE,
    From,
    Market,
    To,
    listing,
    read,
    require_offsets,
)
from api.http.views import CandleView, EquityPointView, Listing

router = APIRouter(tags=["queries"])


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
    require_offsets(**{"from": start, "to": end})
    page = await read(
        request,
        ["candles"],
        min_position,
        wait_s,
        lambda q: q.candles(
            market=market, interval=interval, start=start, end=end, limit=limit, cursor=cursor
        ),
    )
    return listing(page)


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
    require_offsets(**{"from": start, "to": end})
    owner = account or request.app.state.system.settings.trading.account
    page = await read(
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
    return listing(page)
