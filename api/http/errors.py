"""One error body for every refusal: `{"error": {"code", "message", "details"}}`.

Status codes: 400 malformed request (a field, a cursor, an unknown query parameter), 401 no or
wrong token, 404 unknown id or path, 409 a conflict (duplicate client order id, concurrent
writers, a read model not yet at `min_position`), 413 a body over `MAX_BODY_BYTES`, 422 a body
field the request does not have (`unknown_field`) or refused by a domain rule (off-tick price,
below the minimum total, trading halted, ...), 500 an unexpected error (a correlation id, never
the error's text), 503 not configured (no command token, no read models). The code is the broken
rule's name in snake case.
"""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from commands.errors import ConcurrencyConflictError, NotFoundError
from domain.errors import DomainError, DuplicateOrderError
from projections.queries import InvalidCursorError, InvalidQueryValueError

MAX_BODY_BYTES = 64 * 1024
"""The largest request body read; a larger one is refused (413) before it is read."""

log = logging.getLogger(__name__)


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
    400: "Malformed request: a field, a parameter or a cursor is not valid, or a query "
    "parameter the endpoint does not take (unknown_parameter).",
    401: "No bearer token, or not the configured one (commands only).",
    404: "No such order, or no such path.",
    409: "Conflict: the client order id was used before, writers kept conflicting, the "
    "read models had not reached min_position within wait_s (retry), or (/audit/export) the "
    "log does not match its audit chain.",
    413: f"The request body is larger than {MAX_BODY_BYTES:,} bytes; none of it was used.",
    422: "Refused by a domain rule, or the body has a field the request does not have "
    "(unknown_field, naming it); nothing was recorded.",
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


def body_too_large() -> JSONResponse:
    """Return the 413 answer to a body over `MAX_BODY_BYTES`."""
    message = f"the request body is larger than the limit of {MAX_BODY_BYTES:,} bytes"
    return error_response(413, "request_body_too_large", message)


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
        unknown = [
            ".".join(str(p) for p in e.get("loc", ())[1:])
            for e in error.errors()
            if e.get("type") == "extra_forbidden"
        ]
        if unknown:
            names = ", ".join(repr(name) for name in unknown)
            message = f"the body has field(s) {names} that this request does not have"
            return error_response(422, "unknown_field", message, details)
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
        if error.status_code == 413:
            return body_too_large()
        code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
        return error_response(error.status_code, code, str(error.detail))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        # The error's text may quote the database (a statement, its parameters): it goes to
        # the log under a correlation id, and only the id goes to the client.
        reference = f"error:{uuid.uuid4()}"
        log.error("%s %s failed (%s)", request.method, request.url.path, reference, exc_info=error)
        message = f"an unexpected error occurred; quote {reference} to the operator"
        return error_response(500, "internal_error", message)
