"""The read models' page cursors: opaque, signed with a secret key and bound to their listing.

A cursor is base64url of a 16-byte HMAC-SHA256 tag followed by the JSON of the last row's sort
key. The tag covers the listing's identity (its statement, filters and their values) and the
key, so a cursor is accepted only by the listing that handed it out, under the same filters,
by any API holding the same key (replicas, restarts). Its values are parsed into their SQL
types before any statement runs: a cursor never reaches the database as unchecked text.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any
from uuid import UUID

from projections.queries import InvalidCursorError

TAG_BYTES = 16
MAX_BIGINT = 2**63 - 1


def _timestamptz(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError("no UTC offset")
    return value


def _bigint(text: str) -> int:
    value = int(text)
    if not 0 <= value <= MAX_BIGINT:
        raise ValueError("out of range")
    return value


def _text(text: str) -> str:
    if len(text) > 200 or "\x00" in text:
        raise ValueError("not a key text")
    return text


PARSERS: dict[str, Callable[[str], Any]] = {
    "timestamptz": _timestamptz,
    "uuid": UUID,
    "bigint": _bigint,
    "date": date.fromisoformat,
    "text": _text,
}
"""How each SQL type of a sort key is read back from a cursor."""


class CursorCodec:
    """Signs and checks cursors with one secret key."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("a cursor key needs at least 16 bytes")
        self.key = key

    def encode(self, listing: str, values: Sequence[str]) -> str:
        """Return the cursor of `listing` that continues after the row whose key is `values`."""
        payload = json.dumps(list(values), separators=(",", ":")).encode()
        raw = self._tag(listing, payload) + payload
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def decode(self, listing: str, cursor: str, kinds: Sequence[str]) -> list[Any]:
        """Return the sort key of a cursor `listing` handed out, typed as `kinds` (SQL types).

        Raises:
            InvalidCursorError: the cursor is malformed, forged, or of another listing.
        """
        refused = InvalidCursorError("the cursor was not handed out by this listing")
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        except (ValueError, binascii.Error):
            raise refused from None
        tag, payload = raw[:TAG_BYTES], raw[TAG_BYTES:]
        if len(tag) < TAG_BYTES or not hmac.compare_digest(tag, self._tag(listing, payload)):
            raise refused
        try:
            values = json.loads(payload)
            if not isinstance(values, list) or len(values) != len(kinds):
                raise ValueError("wrong shape")
            return [PARSERS[kind](value) for kind, value in zip(kinds, values, strict=True)]
        except (ValueError, TypeError):  # signed by us, so only a key shared by mistake
            raise refused from None

    def _tag(self, listing: str, payload: bytes) -> bytes:
        message = hashlib.sha256(listing.encode()).digest() + payload
        return hmac.new(self.key, message, hashlib.sha256).digest()[:TAG_BYTES]
