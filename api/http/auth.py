"""The command API's bearer token (settings `api.token`, a secret; compared in constant time)."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.http.errors import ApiError

bearer = HTTPBearer(auto_error=False, description="the command API token (LEDGER_API__TOKEN)")


def require_token(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> None:
    """Refuse the request unless it carries the configured bearer token."""
    token = request.app.state.system.settings.api.token
    if token is None:
        raise ApiError(
            503,
            "command_api_disabled",
            "the command API has no token configured: set LEDGER_API__TOKEN (or the secrets "
            "file ledger_api__token) to a token of at least 16 characters",
        )
    if credentials is None:
        raise ApiError(401, "token_missing", "commands need an Authorization: Bearer <token>")
    if not hmac.compare_digest(credentials.credentials.encode(), token.get_secret_value().encode()):
        raise ApiError(401, "token_invalid", "the bearer token is not the configured one")
