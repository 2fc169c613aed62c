"""Command endpoints: they write through the aggregates, or refuse and record nothing.

Each needs the bearer token. An answer carries the new (or affected) id and `log_position`, the
log position of the command's last event: pass it as `min_position` to a query to read your
own write. Amounts are decimal strings (never floats), checked by the same rules and with the
same messages as the CLI's (`domain.money`; 422 `invalid_amount`). Headers `X-Actor` and
`X-Correlation-Id` name who acts and the flow the command belongs to.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Request
from pydantic import BaseModel, ConfigDict, Field

from api.http.auth import require_token
from api.http.errors import ApiError, responses
from commands.handlers import reconciliations
from commands.messages import (
    AcknowledgeReconciliation,
    AllocateCapital,
    CancelOrder,
    ChangeTradingState,
    PlaceOrder,
    SetRiskLimits,
)
from domain.events import Cause

router = APIRouter(tags=["commands"], dependencies=[Depends(require_token)])
TEXT = r"^[A-Za-z0-9_.:@-]{1,64}$"

Amount = Annotated[
    str,
    Field(
        max_length=40,
        examples=["50000000"],
        description="a decimal written plainly: digits, an optional point, no exponent "
        "(KRW amounts a person sets in whole won; BTC to 8 decimals)",
    ),
]
PRINTABLE = r"^[^\x00-\x08\x0b-\x1f\x7f]*$"
Reason = Annotated[
    str, Field(min_length=1, max_length=500, pattern=PRINTABLE, examples=["daily review"])
]
ActorHeader = Annotated[
    str | None, Header(alias="X-Actor", pattern=TEXT, description="who acts (default: api)")
]
CorrelationHeader = Annotated[
    str | None,
    Header(alias="X-Correlation-Id", pattern=TEXT, description="the flow (default: the request)"),
]


class RequestBody(BaseModel):
    """A command's body: a field it does not have is refused (422 unknown_field), not ignored."""

    model_config = ConfigDict(extra="forbid")


class PlaceOrderRequest(RequestBody):
    """An order: limit (price + volume), market bid (amount) or market ask (volume)."""

    # Ids, side, type and market are checked by the ledger (one rule and message with the
    # CLI), their patterns listed here for the schema.
    strategy_id: str = Field(
        json_schema_extra={"pattern": TEXT}, description="strategy with allocated capital"
    )
    side: str = Field(json_schema_extra={"enum": ["bid", "ask"]}, max_length=10)
    order_type: str = Field(json_schema_extra={"enum": ["limit", "market"]}, max_length=10)
    market: str = Field("KRW-BTC", json_schema_extra={"pattern": r"^KRW-[A-Z0-9]{1,10}$"})
    price_krw: Amount | None = Field(None, description="limit price on the KRW tick grid")
    volume_btc: Amount | None = Field(None, description="quantity, at most 8 decimals")
    amount_krw: Amount | None = Field(None, description="KRW to spend (market bids)")
    reference_price_krw: Amount | None = Field(
        None, description="last close: values a market ask for the 5,000 KRW minimum"
    )
    client_order_id: str | None = Field(
        None,
        json_schema_extra={"pattern": TEXT},
        description="idempotency key; the order id is derived from it",
    )


class CommandAccepted(BaseModel):
    """What a command recorded: the id it concerns and the log position of its last event."""

    id: str
    log_position: int


class CancelRequest(RequestBody):
    """Why the order is cancelled."""

    reason: Reason


class RiskLimitsRequest(RequestBody):
    """Every limit at once; a limit left out is removed."""

    reason: Reason
    max_order_krw: Amount | None = None
    max_exposure_krw: Amount | None = None
    daily_loss_krw: Amount | None = None
    max_drawdown: Annotated[str, Field(pattern=r"^0(\.[0-9]{1,8})?$|^1(\.0{1,8})?$")] | None = None
    max_orders_per_minute: (
        Annotated[
            int,
            Field(
                strict=True,
                examples=[60],
                description="orders the account may place in the trailing 60 s of domain time, "
                "a JSON integer from 1 to 1,000,000",
            ),
        ]
        | None
    ) = None


class StateChangeRequest(RequestBody):
    """Why trading changes state (recorded with the actor)."""

    reason: Reason


class AcknowledgementRequest(RequestBody):
    """Why the operator accepts the reconciliation's unexplained differences."""

    reason: Reason


class AllocationRequest(RequestBody):
    """Capital for a strategy (added to what it has)."""

    strategy_id: str = Field(json_schema_extra={"pattern": TEXT})  # checked by the ledger
    amount_krw: Amount


def cause(actor: str | None, correlation: str | None) -> Cause:
    """Return the Cause of an API command received now."""
    request_id = f"http:{uuid.uuid4()}"
    return Cause(
        occurred_at=datetime.now(tz=UTC),
        actor=f"api:{actor or 'api'}",
        causation_id=request_id,
        correlation_id=correlation or request_id,
    )


def _head(request: Request) -> int:
    return int(request.app.state.system.trading.recorder.max_notification_id() or 0)


@router.post(
    "/orders",
    status_code=201,
    response_model=CommandAccepted,
    summary="Place an order",
    responses=responses(400, 401, 409, 413, 422, 503),
)
async def place_order(
    body: PlaceOrderRequest,
    request: Request,
    actor: ActorHeader = None,
    correlation: CorrelationHeader = None,
) -> CommandAccepted:
    """Place an order through the Order aggregate (risk and cash checks included)."""
    trading = request.app.state.system.trading
    command = PlaceOrder(
        client_order_id=body.client_order_id or f"api-{uuid.uuid4()}",
        strategy_id=body.strategy_id,
        market=body.market,
        side=body.side,
        order_type=body.order_type,
        cause=cause(actor, correlation),
        price_krw=body.price_krw,
        volume_btc=body.volume_btc,
        amount_krw=body.amount_krw,
        reference_price_krw=body.reference_price_krw,
    )
    order_id = await asyncio.to_thread(trading.place_operator_order, command)
    return CommandAccepted(id=str(order_id), log_position=_head(request))


@router.post(
    "/orders/{order_id}/cancel",
    status_code=202,
    response_model=CommandAccepted,
    summary="Cancel an order's unfilled remainder",
    responses=responses(400, 401, 404, 409, 413, 422, 503),
)
async def cancel_order(
    order_id: UUID,
    body: CancelRequest,
    request: Request,
    actor: ActorHeader = None,
    correlation: CorrelationHeader = None,
) -> CommandAccepted:
    """Cancel an OPEN or PARTIAL order; its fills stay."""
    trading = request.app.state.system.trading
    command = CancelOrder(order_id, body.reason, cause(actor, correlation))
    await asyncio.to_thread(trading.cancel_order, command)
    return CommandAccepted(id=str(order_id), log_position=_head(request))


@router.put(
    "/risk/limits",
    status_code=202,
    response_model=CommandAccepted,
    summary="Set the risk limits",
    responses=responses(400, 401, 409, 413, 422, 503),
)
async def set_risk_limits(
    body: RiskLimitsRequest,
    request: Request,
    actor: ActorHeader = None,
    correlation: CorrelationHeader = None,
) -> CommandAccepted:
    """Set every limit at once (per order, exposure, daily loss, drawdown, submit rate)."""
    system = request.app.state.system
    command = SetRiskLimits(
        reason=body.reason,
        cause=cause(actor, correlation),
        max_order_krw=body.max_order_krw,
        max_exposure_krw=body.max_exposure_krw,
        daily_loss_krw=body.daily_loss_krw,
        max_drawdown=body.max_drawdown,
        max_orders_per_minute=body.max_orders_per_minute,
    )
    await asyncio.to_thread(system.trading.set_risk_limits, command)
    return CommandAccepted(id=system.settings.trading.account, log_position=_head(request))


STATE_AFTER = {"halt": "HALTED", "reduce": "REDUCING", "resume": "ACTIVE"}


@router.post(
    "/risk/{action}",
    status_code=202,
    response_model=CommandAccepted,
    summary="Halt, reduce or resume trading",
    responses=responses(400, 401, 409, 413, 422, 503),
)
async def change_trading_state(
    action: Literal["halt", "reduce", "resume"],
    body: StateChangeRequest,
    request: Request,
    actor: ActorHeader = None,
    correlation: CorrelationHeader = None,
) -> CommandAccepted:
    """Change the trading state; the reason and the actor are recorded.

    halt: HALTED, nothing is placed; reduce: REDUCING, open orders are cancelled and every
    position is sold at market (a running trading run applies a change at the first candle
    recorded after it); resume: ACTIVE again, and only with an `X-Actor` naming who resumes.
    """
    if action == "resume" and actor is None:
        raise ApiError(
            422,
            "actor_required",
            "resuming trading needs the X-Actor header naming who resumes it (and a reason)",
        )
    system = request.app.state.system
    command = ChangeTradingState(STATE_AFTER[action], body.reason, cause(actor, correlation))
    await asyncio.to_thread(system.trading.change_trading_state, command)
    return CommandAccepted(id=system.settings.trading.account, log_position=_head(request))


@router.post(
    "/capital/allocations",
    status_code=201,
    response_model=CommandAccepted,
    summary="Allocate capital to a strategy",
    responses=responses(400, 401, 409, 413, 422, 503),
)
async def allocate(
    body: AllocationRequest,
    request: Request,
    actor: ActorHeader = None,
    correlation: CorrelationHeader = None,
) -> CommandAccepted:
    """Add KRW capital to a strategy (opens the account's ledger and risk record)."""
    trading = request.app.state.system.trading
    command = AllocateCapital(body.strategy_id, body.amount_krw, cause(actor, correlation))
    await asyncio.to_thread(trading.allocate_capital, command)
    return CommandAccepted(id=body.strategy_id, log_position=_head(request))


@router.post(
    "/reconciliations/{reconciliation_id}/acknowledge",
    status_code=202,
    response_model=CommandAccepted,
    summary="Acknowledge a reconciliation's unexplained differences",
    responses=responses(400, 401, 404, 409, 413, 422, 503),
)
async def acknowledge_reconciliation(
    reconciliation_id: UUID,
    body: AcknowledgementRequest,
    request: Request,
    actor: ActorHeader = None,
    correlation: CorrelationHeader = None,
) -> CommandAccepted:
    """Record the acknowledgement; resume trading when the halt in force is a reconciliation's.

    Trading resumes (ACTIVE, with this actor and reason) when the last change of the trading
    state was a reconciliation's halt and no other reconciliation waits for an acknowledgement.
    A reconciliation with nothing unexplained, or acknowledged already, is refused (422).
    """
    trading = request.app.state.system.trading
    command = AcknowledgeReconciliation(reconciliation_id, body.reason, cause(actor, correlation))
    await asyncio.to_thread(reconciliations.acknowledge_reconciliation, trading, command)
    return CommandAccepted(id=str(reconciliation_id), log_position=_head(request))
