"""Health: is the process up, and does the event log answer."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from domain.clock import to_kst

router = APIRouter(prefix="/health", tags=["health"])
logger = logging.getLogger(__name__)


class HealthView(BaseModel):
    status: str = Field(description="ok, or degraded when the event log does not answer")
    event_log: str = Field(
        description="ok, or `unreachable (<error kind>)` (the error's text is in the server log)"
    )
    log_position: int | None = Field(description="highest notification id in the event log")
    time_utc: datetime
    time_kst: datetime
    version: str


@router.get("", response_model=HealthView, summary="Report liveness and event-log reachability")
def health(request: Request) -> HealthView:
    """Report liveness and whether the event log can be read."""
    trading = request.app.state.system.trading
    now = datetime.now(tz=UTC)
    try:
        position = trading.recorder.max_notification_id()
        status, log = "ok", "ok"
    except Exception as error:  # noqa: BLE001 - reported, not swallowed: the answer says degraded
        # The error's text may name the database's host, user or statement: it goes to the
        # server's log; the client learns only its kind.
        logger.warning("the event log does not answer", exc_info=error)
        position, status, log = None, "degraded", f"unreachable ({type(error).__name__})"
    return HealthView(
        status=status,
        event_log=log,
        log_position=position,
        time_utc=now,
        time_kst=to_kst(now),
        version=request.app.version,
    )
