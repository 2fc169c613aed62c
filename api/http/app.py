"""The FastAPI application factory (no work at import time, style S1.3)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI

from api.http.errors import install_error_handlers
from api.http.routers import audit, commands, health, queries, reconciliations, series

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
            "Every refusal has the body {error: {code, message, details}}."
        ),
    )
    app.state.system = system
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(commands.router)
    app.include_router(queries.router)
    app.include_router(series.router)
    app.include_router(reconciliations.router)
    app.include_router(audit.router)
    return app
