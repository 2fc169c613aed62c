"""Errors of the write side that are not domain rules: unknown ids and lost write races."""

from __future__ import annotations


class NotFoundError(Exception):
    """The command names an aggregate that does not exist."""


class UnknownOrderError(NotFoundError):
    """No order has this id."""


class UnknownRunError(NotFoundError):
    """No run of the strategies has this id."""


class UnknownReconciliationError(NotFoundError):
    """No reconciliation has this id."""


class ConcurrencyConflictError(Exception):
    """Other writers kept changing the same aggregates; the bounded retries were spent."""


class DuplicateRunError(Exception):
    """A run of the strategies is already in the log."""


class RunHeldError(Exception):
    """Another process holds the trading run (its lease): a run is held by one process."""


class RunStateVersionError(Exception):
    """A run's saved state was written by code that encodes it differently."""


class RunLeaseLostError(Exception):
    """This process no longer holds its run's lease: it must stop before sending anything."""


class ExchangeError(Exception):
    """The exchange could not do what was asked; see the two kinds below."""


class ExchangeRefusedOrderError(ExchangeError):
    """The exchange refused an order or a cancel for good (its own error name in `code`)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class ExchangeUnavailableError(ExchangeError):
    """The exchange did not answer usably (timeout, 5xx, rate limit, network): retry later."""
