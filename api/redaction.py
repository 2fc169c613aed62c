"""Credentials in URLs replaced by a marker, in every form a URL can carry them.

A user's password (`user:pass@host`), a token standing alone in the user part (NATS's
`nats://token@host`), and query parameters naming a password, key, secret or token
(libpq's `?user=u&password=…`, `sslpassword=…`), their names percent-encoded or not.
"""

from __future__ import annotations

from urllib.parse import unquote_plus

MARK = "**********"
_SECRET_WORDS = ("pass", "secret", "token", "key", "auth", "credential")


def redact_url(url: str, *, bare_user_is_secret: bool = False) -> str:
    """Return `url` with every credential replaced by the marker.

    `bare_user_is_secret`: a user part without a password is a token (NATS), not a user name
    (PostgreSQL).
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    before_query, question, query = rest.partition("?")
    credentials, at, hosts = before_query.rpartition("@")
    if at:
        if ":" in credentials:
            credentials = credentials.split(":", 1)[0] + ":" + MARK
        elif bare_user_is_secret:
            credentials = MARK
        before_query = f"{credentials}@{hosts}"
    if question:
        query = "&".join(_redact_parameter(part) for part in query.split("&"))
    return f"{scheme}{sep}{before_query}{question}{query}"


def _redact_parameter(part: str) -> str:
    name, equals, _ = part.partition("=")
    if equals and any(word in unquote_plus(name).lower() for word in _SECRET_WORDS):
        return f"{name}={MARK}"
    return part
