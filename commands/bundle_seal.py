"""Record an exported audit bundle's seal: its manifest's sha256 and the head it verified to."""

from __future__ import annotations

import contextlib
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import IntegrityError

from commands.trading import Trading
from domain.audit.checkpoint import ChainHead
from domain.audit.seal import BundleSeal, seal_id
from domain.events import Cause


def seal_bundle(log: Trading, manifest_sha256: str, head: ChainHead, cause: Cause) -> UUID:
    """Record the bundle's seal in the log; return the seal's id.

    Recording the same manifest again is not an error: its seal is in the log already.
    """
    with contextlib.suppress(IntegrityError):  # this manifest was sealed before
        Application.save(log, BundleSeal.record(manifest_sha256, head, cause))
    return seal_id(manifest_sha256)
