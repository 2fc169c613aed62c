"""Audit: the head of the event log's hash chain, and its export bundle (docs/audit.md)."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask

from api.http.auth import require_token
from api.http.errors import ApiError, responses

CHUNK = 1 << 20

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


@router.get(
    "/export",
    summary="The audit bundle (.tar.gz) of a range: events, chain, manifest, CSVs, verifier",
    response_class=StreamingResponse,
    responses={
        **responses(401, 409, 422, 503),
        200: {"content": {"application/gzip": {}}, "description": "the bundle, a .tar.gz"},
    },
    dependencies=[Depends(require_token)],
)
async def export(
    request: Request,
    start: Annotated[
        str | None,
        Query(
            alias="from",
            description="first event: a log position, a date (that trading day, from 09:00 "
            "KST) or an ISO instant with offset",
        ),
    ] = None,
    end: Annotated[
        str | None,
        Query(
            alias="to",
            description="last event: a position (inclusive), a date (through that trading day) "
            "or an instant (exclusive)",
        ),
    ] = None,
    market: Annotated[str | None, Query(description="only this market's events")] = None,
    strategy: Annotated[str | None, Query(description="only this strategy's events")] = None,
) -> StreamingResponse:
    """Stream the audit bundle `ledger audit export` writes, for a range (token required).

    The export verifies the whole chain first, in one snapshot; a log that does not match its
    chain is refused with 409 `log_not_chained`, naming the event. The export then records the
    manifest's seal (`audit.bundle.sealed`) in the log; `X-Audit-Head` is the seal's head, the
    one to keep. The bundle is built on the server, then streamed; verify it with its own
    `verify_bundle.py` and python3 alone.
    """
    from adapters.audit_bundle.export import LogNotChainedError, export_bundle, ledger_sealer
    from api.bootstrap import ServiceUnavailableError
    from api.provenance import provenance
    from domain.audit.selection import BundleSelection

    selection = BundleSelection.parse(start, end, market, strategy)
    settings = request.app.state.system.settings
    try:
        reader = request.app.state.system.chain_reader()
    except ServiceUnavailableError as error:
        raise ApiError(503, "audit_chain_unavailable", str(error)) from None
    work = Path(tempfile.mkdtemp(prefix="ledger-export-"))
    name = f"upbit-ledger-audit-{settings.env}.tar.gz"
    made = provenance(settings)
    seal = ledger_sealer(request.app.state.system.trading, made.exported_at)
    try:
        outcome = await asyncio.to_thread(export_bundle, reader, selection, work / name, made, seal)
    except LogNotChainedError as error:
        shutil.rmtree(work, ignore_errors=True)
        raise ApiError(409, "log_not_chained", str(error)) from None
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    head = outcome.manifest["seal"]
    return StreamingResponse(
        _chunks(outcome.path),
        media_type="application/gzip",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "X-Audit-Head": f"{head['position']}:{head['link']}",
            "X-Audit-Events": str(outcome.manifest["events"]["count"]),
        },
        background=BackgroundTask(shutil.rmtree, work, ignore_errors=True),
    )


def _chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as file:
        while block := file.read(CHUNK):
            yield block
