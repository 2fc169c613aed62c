"""`POST /backtests`: a backtest over the log's candles, answered with `ledger backtest --json`.

It runs the same use case as the CLI (`commands.backtest.run_backtest`) on a scratch ledger, off
the event loop, one at a time per API process (another request meanwhile: 429
`backtest_running`), over at most `MAX_CANDLES` minutes (more: 413 `range_too_large`). It
records nothing: the scratch ledger is dropped with the answer.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import Field

from api.bootstrap import System, scratch_ledger
from api.http.auth import require_token
from api.http.errors import ApiError, ErrorBody, responses
from api.http.routers.commands import Amount, RequestBody
from commands.backtest.run_backtest import BacktestInputs, run_backtest
from commands.candle_history import candle_tape_from_log
from commands.run_engine.run_model import STRATEGY_ORDER
from domain.errors import InvalidAmountError
from domain.fills.paper_fill_model import FillModel
from domain.money import positive_krw, to_decimal
from domain.risk.limits import Limits

router = APIRouter(tags=["backtests"], dependencies=[Depends(require_token)])
MAX_CANDLES = 400_000
"""The most minutes one request may backtest (the 8-month Upbit file is 349,380)."""
_GATE = "backtest_gate"


class BacktestRequest(RequestBody):
    """What to backtest: the log's candles of a market in [from, to), and the run's inputs."""

    market: str = Field("KRW-BTC", json_schema_extra={"pattern": r"^KRW-[A-Z0-9]{1,10}$"})
    start: datetime | None = Field(
        None, alias="from", description="first candle (ISO UTC), inclusive; default the first"
    )
    end: datetime | None = Field(
        None, alias="to", description="end (ISO UTC), exclusive; default after the newest"
    )
    strategies: list[str] = Field(
        default_factory=lambda: list(STRATEGY_ORDER),
        max_length=3,
        json_schema_extra={"items": {"enum": list(STRATEGY_ORDER)}},
    )
    params: dict[str, dict[str, Annotated[str, Field(max_length=40)]]] = Field(
        default_factory=dict, description="parameter overrides: strategy -> name -> value"
    )
    capital_krw: Amount = "10000000"
    fee_rate: Amount = "0.0005"
    slippage_bps: Amount = "0"
    max_participation: Amount | None = None
    max_order_krw: Amount | None = None
    max_exposure_krw: Amount | None = None
    daily_loss_krw: Amount | None = None
    max_drawdown: Amount | None = None
    max_orders_per_minute: int | None = Field(None, strict=True, ge=1, le=1_000_000)


def install_gate(state: Any) -> None:
    """Give the app its one-backtest-at-a-time gate (called by `create_app`)."""
    setattr(state, _GATE, threading.Lock())


BACKTEST_RESPONSES: dict[int | str, dict[str, Any]] = {
    **responses(400, 401, 422, 503),
    404: {"model": ErrorBody, "description": "No candles of the market in the range."},
    413: {
        "model": ErrorBody,
        "description": f"The range holds more than {MAX_CANDLES:,} minutes (range_too_large), "
        "or the body is too large.",
    },
    429: {"model": ErrorBody, "description": "A backtest is running: one runs at a time."},
}


@router.post(
    "/backtests",
    summary="Backtest the strategies over the log's candles",
    responses=BACKTEST_RESPONSES,
)
async def backtest(body: BacktestRequest, request: Request) -> dict[str, Any]:
    """Run a backtest as `ledger backtest --from-log --json` does; return its JSON report."""
    gate: threading.Lock = getattr(request.app.state, _GATE)
    if not gate.acquire(blocking=False):
        raise ApiError(
            429,
            "backtest_running",
            "a backtest is running and one runs at a time: retry when it has finished",
        )
    try:
        return await asyncio.to_thread(_run, request.app.state.system, body)
    finally:
        gate.release()


def _run(system: System, body: BacktestRequest) -> dict[str, Any]:
    inputs = BacktestInputs(
        strategies=list(body.strategies),
        overrides=body.params,
        capital_krw=positive_krw(body.capital_krw, "capital"),
        model=_model(body),
        market=body.market,
        limits=Limits.parse(
            max_order_krw=body.max_order_krw,
            max_exposure_krw=body.max_exposure_krw,
            daily_loss_krw=body.daily_loss_krw,
            max_drawdown=body.max_drawdown,
            max_orders_per_minute=body.max_orders_per_minute,
        ),
    )
    start, end = _utc(body.start), _utc(body.end)
    tape = candle_tape_from_log(system.trading, body.market, start=start, end=end)
    if tape is None:
        window = f"between {start or 'the beginning'} and {end or 'the end'}"
        raise ApiError(
            404,
            "no_candles",
            f"no {body.market} candles are recorded in the event log {window}; record some "
            "with `ledger import`",
        )
    if len(tape) > MAX_CANDLES:
        raise ApiError(
            413,
            "range_too_large",
            f"the range holds {len(tape):,} minutes of {body.market}; one backtest takes at "
            f"most {MAX_CANDLES:,}: narrow from/to, or run `ledger backtest` for more",
        )
    done = run_backtest(tape, inputs, scratch_ledger)
    done.ledger.close()
    return done.report


def _model(body: BacktestRequest) -> FillModel:
    try:
        return FillModel(
            fee_rate=to_decimal(body.fee_rate, "fee rate"),
            slippage_bps=to_decimal(body.slippage_bps, "slippage"),
            max_participation=None
            if body.max_participation is None
            else to_decimal(body.max_participation, "max participation"),
        )
    except ValueError as error:
        raise InvalidAmountError(str(error)) from None


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
