"""A projection: the read-model rows an event leads to, and the tables it owns.

Each read model is one `Projection` subclass with a name (its tracking key and durable consumer),
a version (bumped when its rows change meaning, so a new version is built beside the old one),
the tables it owns (dropped and rebuilt together), and `rows(event, position)`.
"""

from __future__ import annotations

from typing import ClassVar

from domain.events import LedgerEvent
from projections.rows import RowOp


class Projection:
    """Maps events to row operations; events it does not handle give no rows."""

    name: ClassVar[str]
    version: ClassVar[int] = 1
    tables: ClassVar[tuple[str, ...]]

    def rows(self, event: LedgerEvent, position: int) -> list[RowOp]:
        """Return the row operations of `event`, recorded at log `position`."""
        return []
