"""The query endpoint of reconciliations (their acknowledgement is a command: commands.py)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from api.http.consistency import MIN_POSITION, WAIT_S
from api.http.errors import responses
from api.http.reading import CURSOR, LIMIT, Text, listing, read
from api.http.views import Listing, ReconciliationView

router = APIRouter(tags=["queries"])


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
    page = await read(
        request,
        ["reconciliations"],
        min_position,
        wait_s,
        lambda q: q.reconciliations(run_id=run_id, limit=limit, cursor=cursor),
    )
    return listing(page)
