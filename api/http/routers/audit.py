"""Audit: the head of the event log's tamper-evident hash chain (docs/audit.md)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from api.http.errors import ApiError, responses

router = APIRouter(prefix="/audit", tags=["audit"])


class ChainHeadView(BaseModel):
    """The chain's head beside the log's (keep `link` to prove nothing before it changed)."""

    position: int = Field(description="log position of the newest chained event (0: none)")
    link: str = Field(description="its link: sha256 hex; the genesis link when the log is empty")
    count: int = Field(description="how many events the chain holds")
    log_position: int = Field(description="the log's newest position")
    log_count: int = Field(description="how many events the log holds")
    is_caught_up: bool = Field(description="the chain holds every event of the log")


@router.get(
    "/head",
    response_model=ChainHeadView,
    summary="The audit chain's head (position, link, count) and the log's",
    responses=responses(503),
)
async def head(request: Request) -> ChainHeadView:
    """The head of the hash chain over the log: a query, like the read models, no token.

    Every event is chained in the transaction that records it, so the chain is caught up
    with the log unless events were written around the ledger (`ledger audit verify`).
    """
    recorder = request.app.state.system.trading.recorder
    status = getattr(recorder, "chain_status", None)
    if status is None:
        raise ApiError(503, "audit_chain_unavailable", "this event store keeps no audit chain")
    found = await asyncio.to_thread(status)
    return ChainHeadView(**found.as_dict())
