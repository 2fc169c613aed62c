"""The chain's link rule: each link is sha256 of the previous link and an event's digest.

An event's digest is the sha256 of its canonical JSON (UTF-8); its link is the sha256 of the
previous link's 32 bytes followed by the digest's 32 bytes. Binding the digest, not the JSON
itself, lets an export bundle prove the events it leaves out (another market, another range) by
their digests alone. Standard library only: the stand-alone verifier of an export bundle copies
these definitions as they are (docs/audit.md "The link rule").
"""

from __future__ import annotations

import hashlib

LINK_RULE = "upbit-ledger audit chain v2"
"""The rule's name; its sha256 is the genesis link (v1, to 2026-12-05, linked the JSON itself)."""

GENESIS_LINK = hashlib.sha256(LINK_RULE.encode("ascii")).hexdigest()
"""link_0: the link before the log's first event."""


def event_digest(canonical: str) -> str:
    """Return an event's digest: the sha256 (hex) of its canonical JSON in UTF-8."""
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def link_after(previous_link: str, digest: str) -> str:
    """Return the link of an event of `digest`: sha256(previous link's bytes + digest's bytes)."""
    return hashlib.sha256(bytes.fromhex(previous_link) + bytes.fromhex(digest)).hexdigest()


def chain_link(previous_link: str, canonical: str) -> str:
    """Return the link of an event from its canonical JSON."""
    return link_after(previous_link, event_digest(canonical))
