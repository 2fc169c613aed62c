"""Which failures of a trading step time can cure (retried), and which end the run."""

from __future__ import annotations

import psycopg
from eventsourcing.persistence import InterfaceError as PersistenceInterfaceError
from eventsourcing.persistence import OperationalError as PersistenceOperationalError

from adapters.sandbox_exchange.control import SandboxControlError
from adapters.upbit.errors import UpbitRetryableError
from commands.errors import ConcurrencyConflictError, ExchangeUnavailableError


def is_curable(error: Exception) -> bool:
    """Return whether time can cure a trading step's failure (an outage, a lost race)."""
    return isinstance(
        error,
        ExchangeUnavailableError
        | ConcurrencyConflictError
        | SandboxControlError
        | UpbitRetryableError
        | PersistenceOperationalError
        | PersistenceInterfaceError
        | psycopg.OperationalError  # the run's lease could not be confirmed: PostgreSQL is away
        | OSError,
    )
