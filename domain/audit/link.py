"""The chain's link rule: each link is sha256 of the previous link and an event's canonical JSON.

Standard library only: the stand-alone verifier of an export bundle copies this module's two
definitions as they are (docs/audit.md "The link rule").
"""

from __future__ import annotations

import hashlib

GENESIS_LINK = hashlib.sha256(b"upbit-ledger audit chain v1").hexdigest()
"""link_0: the link before the log's first event."""


def chain_link(previous_link: str, canonical: str) -> str:
    """Return the link of an event: sha256(bytes of the previous link + its canonical JSON)."""
    return hashlib.sha256(bytes.fromhex(previous_link) + canonical.encode("utf-8")).hexdigest()
