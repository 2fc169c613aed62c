"""The FastAPI application factory (no work at import time, style S1.3)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import Depends, FastAPI

from api.http.body_limit import BodySizeLimit
from api.http.errors import MAX_BODY_BYTES, install_error_handlers
from api.http.query_parameters import refuse_unknown_parameters
from api.http.routers import (
    audit,
    backtests,
    commands,
    health,
    queries,
    reconciliations,
    series,
)

if TYPE_CHECKING:
    from api.bootstrap import System

API_VERSION = "0.1.0"


def create_app(system: System) -> FastAPI:
    """Return the HTTP API over a bootstrapped system."""
    app = FastAPI(
        title="upbit-ledger",
        version=API_VERSION,
        description=(
            "Event-sourced CQRS ledger for Upbit KRW-BTC trading. Commands (bearer token) "
            "write through the aggregates and answer with the log position of their last "
            "event; queries read the read models, and wait for a position with min_position. "
            "Every refusal has the body {error: {code, message, details}}. A body field or "
            "query parameter an endpoint does not take is refused (422 unknown_field, 400 "
            f"unknown_parameter), and so is a body over {MAX_BODY_BYTES:,} bytes (413)."
        ),
        dependencies=[Depends(refuse_unknown_parameters)],
    )
    app.state.system = system
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit)
    app.include_router(health.router)
    app.include_router(commands.router)
    app.include_router(queries.router)
    app.include_router(series.router)
    app.include_router(reconciliations.router)
    app.include_router(audit.router)
    app.include_router(backtests.router)
    backtests.install_gate(app.state)
    return app
