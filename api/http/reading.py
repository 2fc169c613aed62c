"""How a query endpoint reads the read models: its shared parameters, the wait, the listing.

`read` waits until the read models named have applied `min_position`, then asks them off the
event loop; `listing` serialises a page without re-validating each row.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, TypeVar
from uuid import UUID

from fastapi import Query, Request, Response

from api.http.consistency import wait_for
from api.http.errors import ApiError
from projections.queries import Page

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


def queries_of(request: Request) -> Any:
    """Return the read models' queries, refusing (503) an API without read models."""
    queries = request.app.state.system.queries
    if queries is None:
        raise ApiError(503, "read_models_unavailable", "this API runs without read models")
    return queries


async def read(
    request: Request,
    models: list[str],
    min_position: int | None,
    wait_s: float,
    ask: Callable[[Any], T],
) -> T:
    """Wait until `models` have applied `min_position`; then ask the read models, off the loop."""
    await wait_for(request, models, min_position, wait_s)
    queries = queries_of(request)
    return await asyncio.to_thread(ask, queries)


def require_offsets(**times: datetime | None) -> None:
    """Refuse (400) a time given without its UTC offset."""
    for name, value in times.items():
        if value is not None and value.tzinfo is None:
            raise ApiError(400, "invalid_request", f"{name} {value.isoformat()} needs a UTC offset")


def listing(page: Page) -> Response:
    """Return a page as the documented `{items, next_cursor}` JSON."""
    # Rows come typed from the database, in the documented shape: serialise them directly
    # (validating every row through the response model costs more than the query).
    body = {"items": list(page.rows), "next_cursor": page.next_cursor}
    return Response(json.dumps(body, default=json_value), media_type="application/json")


def json_value(value: object) -> str:
    """Return a database value as JSON text (times ISO 8601, decimals and UUIDs as text)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal | UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not serialisable")
