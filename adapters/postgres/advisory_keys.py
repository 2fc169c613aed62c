"""The keys of the ledger's PostgreSQL advisory locks: a signed 64-bit hash of the lock's name."""

from __future__ import annotations

import hashlib


def advisory_key(name: str) -> int:
    """Return the advisory-lock key of the lock named `name` (sha256 of `upbit-ledger <name>`)."""
    digest = hashlib.sha256(f"upbit-ledger {name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)
