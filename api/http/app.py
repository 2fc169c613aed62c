"""The FastAPI application factory (no work at import time, style S1.3)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI

from api.http.routers import health

if TYPE_CHECKING:
    from api.bootstrap import System

API_VERSION = "0.1.0"


def create_app(system: System) -> FastAPI:
    """Return the HTTP API over a bootstrapped system."""
    app = FastAPI(
        title="upbit-ledger",
        version=API_VERSION,
        description="Event-sourced CQRS ledger for Upbit KRW-BTC trading.",
    )
    app.state.system = system
    app.include_router(health.router)
    return app
