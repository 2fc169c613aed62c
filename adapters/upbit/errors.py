"""Upbit's errors as named exceptions: retryable (rate limit, server, network) or permanent.

Every error body `{"error": {"name", "message"}}` becomes an exception carrying Upbit's own name
and message (upbit-api.md §6); 429 means back off, 418 means stop and report.
"""

from __future__ import annotations

import json
from typing import Any


class UpbitError(Exception):
    """Anything that went wrong talking to Upbit."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        name: str | None = None,
        upbit_message: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.name = name
        self.upbit_message = upbit_message


class UpbitRetryableError(UpbitError):
    """A temporary failure: the same request may succeed later (after a back-off)."""


class UpbitRateLimitedError(UpbitRetryableError):
    """429 Too Many Requests: back off; carrying on gets the IP or pocket blocked (418)."""


class UpbitServerError(UpbitRetryableError):
    """5xx: retry reads; an order POST must be looked up by its identifier first."""


class UpbitUnavailableError(UpbitRetryableError):
    """The request did not complete: timeout, connection refused or reset."""


class UpbitBlockedError(UpbitError):
    """418: temporarily blocked after repeated 429s. Stop all traffic and report."""


class UpbitPermanentError(UpbitError):
    """A refusal that repeating will not change (bad parameters, auth, funds, not found)."""


class UpbitAuthError(UpbitPermanentError):
    """401/403 on credentials: jwt_verification, invalid_query_payload, out_of_scope, ..."""


class UpbitOrderRejectedError(UpbitPermanentError):
    """400 on an order: insufficient funds, under minimum total, off-tick price, ..."""


class UpbitNotFoundError(UpbitPermanentError):
    """404: order_not_found, or an unknown market (`Code not found`)."""


class UpbitMalformedPayloadError(UpbitError):
    """A response or message does not have the shape or values the API documents."""


ORDER_ERROR_PREFIXES = (
    "create_",
    "insufficient_funds",
    "under_min_total",
    "invalid_price",
    "invalid_volume",
    "invalid_funds",
    "volume_too_large",
)


def error_from_response(status: int, body: str) -> UpbitError:
    """Return the named exception for a non-2xx response (its body may be JSON or text)."""
    name, message = _error_fields(body)
    label = f" {name}" if name and name != str(status) else ""
    described = f"Upbit answered {status}{label}: " + (
        (message or "") if name else body[:200].strip()
    )
    kwargs: dict[str, Any] = {"status": status, "name": name, "upbit_message": message}
    if status == 429:
        return UpbitRateLimitedError(described + " (rate limit: back off)", **kwargs)
    if status == 418:
        return UpbitBlockedError(described + " (blocked after repeated 429s: stop)", **kwargs)
    if status >= 500:
        return UpbitServerError(described, **kwargs)
    if status in (401, 403):
        return UpbitAuthError(described, **kwargs)
    if status == 404:
        return UpbitNotFoundError(described, **kwargs)
    if name and name.startswith(ORDER_ERROR_PREFIXES):
        return UpbitOrderRejectedError(described, **kwargs)
    return UpbitPermanentError(described, **kwargs)


def _error_fields(body: str) -> tuple[str | None, str | None]:
    try:
        parsed = json.loads(body)
    except ValueError:
        return None, None
    error = parsed.get("error") if isinstance(parsed, dict) else None
    if not isinstance(error, dict):
        return None, None
    name, message = error.get("name"), error.get("message")
    return (None if name is None else str(name)), (None if message is None else str(message))
