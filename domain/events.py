"""The envelope every domain event carries: domain time in UTC and KST, actor, causation.

Architecture "Events": each event records when it happened (domain time, both clocks), who or
what caused it, and the correlation of the flow it belongs to. The library's own `timestamp`
is set to the same domain time; it never falls back to the wall clock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from eventsourcing.domain import Aggregate

from domain.clock import require_utc, to_kst
from domain.errors import InvalidDomainTimeError, InvalidIdentifierError, MissingTextError

SCHEMA_VERSION_ATTRIBUTE = "class_version"
"""Event schema versions use the library's `class_version` and `upcast_vN_vN+1` hooks."""

AggregateT = TypeVar("AggregateT", bound=Aggregate)


def create_aggregate(cls: type[AggregateT], event_class: type[Any], **fields: Any) -> AggregateT:
    """Create an aggregate by its own created-event class, with these fields.

    The one call of the library's `Aggregate._create` (documented by the library for an
    aggregate whose created event is a class of its own, yet named as private): every
    aggregate is created through here, and `tests/unit/test_library_canary.py` pins it.
    """
    return cls._create(event_class, **fields)


class LedgerEvent(Aggregate.Event):
    """Base of every ledger event: the metadata fields shared by all of them."""

    occurred_at: datetime
    occurred_at_kst: datetime
    actor: str
    causation_id: str
    correlation_id: str

    @staticmethod
    def create_timestamp() -> datetime:
        """Refuse to invent a time: every event must be given its domain time."""
        raise InvalidDomainTimeError("an event was triggered without its domain time")

    @classmethod
    def schema_version(cls) -> int:
        """Return the version of this event's schema (1 until an upcaster is added)."""
        return int(getattr(cls, SCHEMA_VERSION_ATTRIBUTE, 1))


class LedgerCreated(LedgerEvent, Aggregate.Created):
    """Base of the events that create an aggregate."""


@dataclass(frozen=True)
class Cause:
    """Why and when a command runs: domain time, actor, causation and correlation ids.

    `causation_id` names what directly caused the command (a request, an event);
    `correlation_id` names the whole flow (e.g. from a candle to its fill).
    """

    occurred_at: datetime
    actor: str
    causation_id: str
    correlation_id: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "occurred_at", require_utc(self.occurred_at, "occurred_at"))
        for name in ("actor", "causation_id", "correlation_id"):
            require_text(getattr(self, name), name)

    def event_fields(self) -> dict[str, Any]:
        """Return the envelope fields (and the library timestamp) for an event."""
        return {
            "timestamp": self.occurred_at,
            "occurred_at": self.occurred_at,
            "occurred_at_kst": to_kst(self.occurred_at),
            "actor": self.actor,
            "causation_id": self.causation_id,
            "correlation_id": self.correlation_id,
        }


ID_MAX_CHARS = 64
"""Longest client order id or strategy id (the API's and the CLI's bound)."""

ID_ALPHABET = "A-Z a-z 0-9 _ . : @ -"
ID_PATTERN = re.compile(r"[A-Za-z0-9_.:@-]+")
"""A strategy id or client order id (its length bounded by `ID_MAX_CHARS`): it names NATS
subjects, URLs and file names."""

EXCHANGE_ID_MAX_CHARS = 128
"""Longest exchange order id or trade id (Upbit's are 36-character UUIDs)."""

REASON_MAX_CHARS = 500
"""Longest reason a person gives (cancel, risk limits, trading state, acknowledgement)."""


def require_text(value: object, what: str, max_chars: int | None = None) -> str:
    """Return a stripped non-empty text without control characters, of at most `max_chars`.

    Raises:
        MissingTextError: the text is missing or blank, too long, or holds a control character
            (a NUL cannot even be stored by PostgreSQL's text and jsonb types).
    """
    if not isinstance(value, str) or not value.strip():
        raise MissingTextError(f"{what} {value!r} must be a non-empty text")
    if max_chars is not None and len(value) > max_chars:
        raise MissingTextError(
            f"{what} is {len(value)} characters long; at most {max_chars} are accepted "
            f"(it starts {value[:20]!r})"
        )
    if any(ord(ch) < 32 and ch not in "\t\n" or ord(ch) == 127 for ch in value):
        raise MissingTextError(f"{what} {value!r} must not contain control characters")
    return value.strip()


def require_id(value: object, what: str) -> str:
    """Return a strategy id or client order id: 1 to 64 characters of `ID_ALPHABET`.

    Raises:
        MissingTextError: the id is blank, too long or holds a control character.
        InvalidIdentifierError: it holds another character outside the alphabet (a space, /).
    """
    text = require_text(value, what, ID_MAX_CHARS)
    if not ID_PATTERN.fullmatch(text):
        raise InvalidIdentifierError(f"{what} {text!r} may hold only the characters {ID_ALPHABET}")
    return text
