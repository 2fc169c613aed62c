"""One error body for every refusal: `{"error": {"code", "message", "details"}}`.

Status codes: 400 malformed request (a field, a cursor), 401 no or wrong token, 404 unknown
id or path, 409 a conflict (duplicate client order id, concurrent writers, a read model not yet
at `min_position`), 422 refused by a domain rule (off-tick price, below the minimum total,
trading halted, ...), 503 not configured (no command token, no read models). The code is the
broken rule's name in snake case.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from commands.errors import ConcurrencyConflictError, NotFoundError
from domain.errors import DomainError, DuplicateOrderError
from projections.queries import InvalidCursorError, InvalidQueryValueError


class ErrorDetail(BaseModel):
    """What went wrong, for a person and for a program."""

    code: str = Field(description="the broken rule, e.g. price_off_tick, token_missing")
    message: str = Field(description="what was refused and why, naming the offending value")
    details: list[dict[str, Any]] = Field(
        default_factory=list, description="per-field problems of a malformed request"
    )


class ErrorBody(BaseModel):
    """The body of every 4xx and 5xx answer."""

    error: ErrorDetail


class ApiError(Exception):
    """A refusal decided in the API layer (auth, read model not ready, ...)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


DESCRIPTIONS = {
    400: "Malformed request: a field, a parameter or a cursor is not valid.",
    401: "No bearer token, or not the configured one (commands only).",
    404: "No such order, or no such path.",
    409: "Conflict: the client order id was used before, writers kept conflicting, the "
    "read models had not reached min_position within wait_s (retry), or (/audit/export) the "
    "log does not match its audit chain.",
    422: "Refused by a domain rule; nothing was recorded.",
    503: "The command API has no token configured, or this API runs without read models "
    "(or, for /audit/head, without the PostgreSQL event store's audit chain).",
}


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Return the OpenAPI `responses` of a route that may answer these error statuses."""
    return {s: {"model": ErrorBody, "description": DESCRIPTIONS[s]} for s in statuses}


def error_response(status: int, code: str, message: str, details: Any = None) -> JSONResponse:
    """Return the error body as a response."""
    body = ErrorBody(error=ErrorDetail(code=code, message=message, details=details or []))
    return JSONResponse(body.model_dump(mode="json"), status_code=status)


def snake(name: str) -> str:
    """Return an exception class name as a snake-case code, without its `Error` suffix."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name.removesuffix("Error")).lower()


def install_error_handlers(app: FastAPI) -> None:
    """Answer every refusal with the one error body."""

    @app.exception_handler(ApiError)
    async def api_error(_: Request, error: ApiError) -> JSONResponse:
        return error_response(error.status, error.code, error.message)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        details = [
            {"field": ".".join(str(p) for p in e.get("loc", ())), "problem": e.get("msg", "")}
            for e in error.errors()
        ]
        summary = "; ".join(f"{d['field']}: {d['problem']}" for d in details)
        return error_response(400, "invalid_request", summary or "malformed request", details)

    @app.exception_handler(InvalidCursorError)
    async def bad_cursor(_: Request, error: InvalidCursorError) -> JSONResponse:
        return error_response(400, "invalid_cursor", str(error))

    @app.exception_handler(InvalidQueryValueError)
    async def bad_value(_: Request, error: InvalidQueryValueError) -> JSONResponse:
        return error_response(400, "invalid_request", str(error))

    @app.exception_handler(DuplicateOrderError)
    async def duplicate(_: Request, error: DuplicateOrderError) -> JSONResponse:
        return error_response(409, snake(type(error).__name__), str(error))

    @app.exception_handler(DomainError)
    async def refused(_: Request, error: DomainError) -> JSONResponse:
        return error_response(422, snake(type(error).__name__), str(error))

    @app.exception_handler(NotFoundError)
    async def not_found(_: Request, error: NotFoundError) -> JSONResponse:
        return error_response(404, snake(type(error).__name__), str(error))

    @app.exception_handler(ConcurrencyConflictError)
    async def conflict(_: Request, error: ConcurrencyConflictError) -> JSONResponse:
        return error_response(409, "write_conflict", str(error))

    @app.exception_handler(HTTPException)
    async def http(_: Request, error: HTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
        return error_response(error.status_code, code, str(error.detail))
