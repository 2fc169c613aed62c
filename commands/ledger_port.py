"""What a use case needs of the ledger: load, save, retry within the account's turn, read.

The handlers (`commands/handlers/`) are plain functions of this and a command; `Trading`
(`commands/trading.py`) is the one object that provides it, over the one event log.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal
from typing import Any, Protocol, TypeVar
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import EventStore

T = TypeVar("T")
A = TypeVar("A")


class Ledger(Protocol):
    """The one event log of an account, as its use cases see it."""

    account: str
    markets: frozenset[str]
    fee_rate: Decimal

    @property
    def events(self) -> EventStore[UUID]:
        """The log's events by aggregate (e.g. an aggregate's history)."""
        ...

    def find(self, aggregate_id: UUID, kind: type[A]) -> A | None:
        """Return the aggregate with this id if it is a `kind`, else None."""
        ...

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        """Record the new events of these aggregates in one transaction."""
        ...

    def retrying(self, attempt: Callable[[], T], what: str, *, in_turn: bool = True) -> T:
        """Decide and save with `attempt` (in the account's writer turn), retried on a conflict."""
        ...

    def read_events(
        self, topics: Sequence[str], *, after: int = 0, upto: int | None = None
    ) -> Iterator[tuple[int, DomainEventProtocol[UUID]]]:
        """Yield (log position, event) of these topics after `after`, in order."""
        ...
