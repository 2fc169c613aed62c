"""The BundleSeal aggregate: an export bundle's manifest, recorded in the log it exports.

`audit.bundle.sealed` names the sha256 of a bundle's manifest (what was selected, the code
version, the counts, every file's sha256) and the chain's head the bundle was verified to. It is
an event of the log like any other, so it is chained: a head kept at or after it (an auditor's
`--head`) proves the manifest, and so what the bundle left out, as it proves the events
(docs/audit.md "How a bundle proves its manifest"). One seal per manifest: its id is derived
from the manifest's sha256.
"""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.audit.checkpoint import ChainHead
from domain.events import Cause, LedgerCreated, create_aggregate
from domain.ids import derive_id

SEAL_ACTOR = "audit-export"


class BundleSeal(Aggregate):
    """The manifest of one export bundle."""

    class Sealed(LedgerCreated):
        """An export bundle's manifest was recorded in the log."""

        TOPIC = "audit.bundle.sealed"
        manifest_sha256: str
        head_position: int
        head_link: str
        head_count: int

        def apply(self, seal: BundleSeal) -> None:
            """Evolve the seal's state by this event."""
            seal.manifest_sha256 = self.manifest_sha256
            seal.head = ChainHead(self.head_position, self.head_link, self.head_count)

    manifest_sha256: str
    head: ChainHead

    def __init__(self) -> None:
        """State is set by the Sealed event; see `record`."""

    @classmethod
    def record(cls, manifest_sha256: str, head: ChainHead, cause: Cause) -> BundleSeal:
        """Record the manifest (its sha256) of a bundle verified to `head`."""
        return create_aggregate(
            cls,
            cls.Sealed,
            id=seal_id(manifest_sha256),
            manifest_sha256=manifest_sha256,
            head_position=head.position,
            head_link=head.link,
            head_count=head.count,
            **cause.event_fields(),
        )


def seal_id(manifest_sha256: str) -> UUID:
    """Return the id of the seal of the manifest of this sha256."""
    return derive_id("audit-bundle-seal", manifest_sha256)
