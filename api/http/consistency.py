"""Read your own writes: a query may wait until its read models have applied a log position.

Every command answers with the log position of its last event; a query given
`min_position=<that>` waits (up to `wait_s`) until the read models it reads have applied it,
and otherwise answers 409 `read_model_behind` with how far each one got (retry later). A
position beyond the log's head is refused (400): no command answered it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from fastapi import Query, Request

from api.http.errors import ApiError

MIN_POSITION = Query(
    None,
    ge=0,
    description="wait until the read models have applied this log position (from a command's "
    "answer), up to wait_s seconds",
)
WAIT_S = Query(5.0, gt=0, le=30, description="longest wait for min_position, in seconds")


async def wait_for(
    request: Request, projections: Sequence[str], position: int | None, wait_s: float
) -> None:
    """Return once every projection has applied `position` (None: at once).

    Raises:
        ApiError: 409 read_model_behind when the wait ran out; 400 for a position beyond
            the log's head.
    """
    if position is None:
        return
    system = request.app.state.system
    head = await asyncio.to_thread(system.trading.recorder.max_notification_id) or 0
    if position > head:
        raise ApiError(
            400,
            "position_beyond_log",
            f"min_position {position} is beyond the log's head {head}: use the log_position "
            "a command answered",
        )
    queries = system.queries
    deadline = time.monotonic() + wait_s
    while True:
        reached = await asyncio.to_thread(queries.positions_of, projections)
        if all(p >= position for p in reached.values()):
            return
        if time.monotonic() >= deadline:
            raise ApiError(
                409,
                "read_model_behind",
                f"after {wait_s:g} s the read models have applied "
                + ", ".join(f"{n} up to {p}" for n, p in reached.items())
                + f", not yet {position}; retry, or check `ledger projections status`",
            )
        await asyncio.sleep(0.01)
