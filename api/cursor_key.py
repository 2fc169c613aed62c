"""The key that signs the read models' page cursors, derived from the secret settings."""

from __future__ import annotations

import hashlib
import hmac

from api.settings import Settings

CURSOR_KEY_LABEL = b"upbit-ledger read-model cursor key v1"


def cursor_key(settings: Settings) -> bytes:
    """Return the key that signs page cursors, the same on every replica and after restarts.

    `api.cursor_key` when set; else derived (HMAC-SHA256 under a fixed label, so the key does
    not reveal its source) from the first secret set of `api.token` and `database.url`; with
    no secret at all, from the database schema's name alone (a development API: cursors are
    still bound to their listing and type-checked, but anyone can sign one).
    """
    api, db = settings.api, settings.database
    for secret in (api.cursor_key, api.token, db.url):
        if secret is not None:
            source = secret.get_secret_value().encode()
            break
    else:
        source = f"unsigned:{db.schema_name}".encode()
    return hmac.new(source, CURSOR_KEY_LABEL, hashlib.sha256).digest()
