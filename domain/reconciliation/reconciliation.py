"""The Reconciliation aggregate: one comparison of a trading run's exchange with the log.

Started (run, trigger, sequence), one `DifferenceFound` per difference, Completed (counts,
balances, the figures a later reconciliation compares with), and, when a difference was not
explained, an operator's `Acknowledged`. Its id is uuid5 of the run and its sequence number.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.errors import ReconciliationAcknowledgementError
from domain.events import (
    REASON_MAX_CHARS,
    Cause,
    LedgerCreated,
    LedgerEvent,
    create_aggregate,
    require_text,
)
from domain.ids import derive_id
from domain.reconciliation.balances import BalanceSnapshot, BookFigures
from domain.reconciliation.difference import Difference

TRIGGERS = ("start", "reconnect", "operator")
"""Why a reconciliation ran: the run started, it reconnected after a failure, someone asked."""


def reconciliation_id(run_id: str, sequence: int) -> UUID:
    """Return the id of a run's `sequence`-th reconciliation (from 1)."""
    return derive_id("reconciliation", run_id, str(sequence))


class Reconciliation(Aggregate):
    """One reconciliation of a run: its differences, balances and acknowledgement."""

    class Started(LedgerCreated):
        """A reconciliation of a run with its exchange started."""

        TOPIC = "exchange.reconciliation.started"
        run_id: str
        sequence: int
        trigger: str
        exchange: str
        market: str

        def apply(self, rec: Reconciliation) -> None:
            """Evolve the reconciliation's state by this event."""
            rec.run_id, rec.sequence, rec.trigger = self.run_id, self.sequence, self.trigger
            rec.exchange, rec.market = self.exchange, self.market
            rec.differences = []
            rec.is_completed = rec.is_acknowledged = rec.is_halting = False
            rec.figures = {}
            rec.unexplained = 0
            rec.acknowledged_by = rec.acknowledgement = None

    class DifferenceFound(LedgerEvent):
        """The exchange and the log differ in one respect."""

        TOPIC = "exchange.reconciliation.difference_found"
        kind: str
        order_id: str | None
        exchange_says: str
        log_says: str
        is_explained: bool
        explanation: str

        def apply(self, rec: Reconciliation) -> None:
            """Evolve the reconciliation's state by this event."""
            rec.differences.append(
                {
                    "kind": self.kind,
                    "order_id": self.order_id,
                    "exchange_says": self.exchange_says,
                    "log_says": self.log_says,
                    "is_explained": self.is_explained,
                    "explanation": self.explanation,
                }
            )
            rec.unexplained += 0 if self.is_explained else 1

    class Completed(LedgerEvent):
        """The comparison is done: counts, the exchange's and the ledger's figures.

        `*_free`/`*_locked` are the exchange's balances; `ledger_*` the cash and BTC of the
        run's strategies in the ledger; `unrecorded_*` what the exchange's trades the log has
        not recorded yet change; `baseline_sequence` the reconciliation the balances were
        compared with (its own sequence: this one is the baseline).
        """

        TOPIC = "exchange.reconciliation.completed"
        differences: int
        unexplained: int
        krw_free: Decimal
        krw_locked: Decimal
        base_free: Decimal
        base_locked: Decimal
        ledger_krw: Decimal
        ledger_base: Decimal
        unrecorded_krw: Decimal
        unrecorded_base: Decimal
        baseline_sequence: int
        is_halting: bool
        """Whether this reconciliation halted trading (False when it was HALTED already)."""

        def apply(self, rec: Reconciliation) -> None:
            """Evolve the reconciliation's state by this event."""
            rec.is_completed = True
            rec.is_halting = self.is_halting
            rec.figures = {
                "krw_free": self.krw_free,
                "krw_locked": self.krw_locked,
                "base_free": self.base_free,
                "base_locked": self.base_locked,
                "ledger_krw": self.ledger_krw,
                "ledger_base": self.ledger_base,
                "unrecorded_krw": self.unrecorded_krw,
                "unrecorded_base": self.unrecorded_base,
                "baseline_sequence": self.baseline_sequence,
            }

    class Acknowledged(LedgerEvent):
        """An operator acknowledged the unexplained differences, with a reason."""

        TOPIC = "exchange.reconciliation.acknowledged"
        reason: str
        has_resumed: bool
        """Whether the acknowledgement resumed trading (the halt in force was a reconciliation's
        and no other unacknowledged one remained)."""

        def apply(self, rec: Reconciliation) -> None:
            """Evolve the reconciliation's state by this event."""
            rec.is_acknowledged = True
            rec.acknowledged_by = self.actor
            rec.acknowledgement = self.reason

    run_id: str
    sequence: int
    trigger: str
    exchange: str
    market: str
    differences: list[dict[str, Any]]
    unexplained: int
    is_completed: bool
    is_halting: bool
    is_acknowledged: bool
    acknowledged_by: str | None
    acknowledgement: str | None
    figures: dict[str, Any]

    def __init__(self) -> None:
        """State is set by the Started event; see `start`."""

    @classmethod
    def start(
        cls, *, run_id: str, sequence: int, trigger: str, exchange: str, market: str, cause: Cause
    ) -> Reconciliation:
        """Start the `sequence`-th reconciliation of a run.

        Raises:
            ValueError: an unknown trigger or a sequence below 1 (a bug of the caller).
        """
        if trigger not in TRIGGERS or sequence < 1:
            raise ValueError(f"trigger {trigger!r} / sequence {sequence} is not valid")
        name = require_text(run_id, "run id")
        return create_aggregate(
            cls,
            cls.Started,
            id=reconciliation_id(name, sequence),
            run_id=name,
            sequence=sequence,
            trigger=trigger,
            exchange=exchange,
            market=market,
            **cause.event_fields(),
        )

    @property
    def reconciliation_id(self) -> UUID:
        """Return the reconciliation's id."""
        return UUID(str(self.id))

    @property
    def name(self) -> str:
        """Return how messages name it: `reconciliation N of run R (id)`."""
        return f"reconciliation {self.sequence} of run {self.run_id} ({self.id})"

    @property
    def needs_acknowledgement(self) -> bool:
        """Return True while an unexplained difference waits for an operator."""
        return self.is_completed and self.unexplained > 0 and not self.is_acknowledged

    @property
    def is_settled(self) -> bool:
        """Return True when its balances may serve as a later one's baseline."""
        return self.is_completed and (self.unexplained == 0 or self.is_acknowledged)

    def snapshot(self) -> BalanceSnapshot:
        """Return the balances it saw (after completion)."""
        f = self.figures
        return BalanceSnapshot(
            exchange=BookFigures(
                f["krw_free"] + f["krw_locked"], f["base_free"] + f["base_locked"]
            ),
            ledger=BookFigures(f["ledger_krw"], f["ledger_base"]),
            unrecorded=BookFigures(f["unrecorded_krw"], f["unrecorded_base"]),
        )

    def record_difference(self, difference: Difference, cause: Cause) -> None:
        """Record one difference."""
        self.trigger_event(
            self.DifferenceFound,
            kind=difference.kind.value,
            order_id=difference.order_id,
            exchange_says=difference.exchange_says,
            log_says=difference.log_says,
            is_explained=difference.is_explained,
            explanation=difference.explanation,
            **cause.event_fields(),
        )

    def complete(
        self,
        *,
        krw: tuple[Decimal, Decimal],
        base: tuple[Decimal, Decimal],
        ledger: BookFigures,
        unrecorded: BookFigures,
        baseline_sequence: int,
        is_halting: bool,
        cause: Cause,
    ) -> None:
        """Record the end of the comparison: `krw` and `base` are (free, locked) at the exchange."""
        self.trigger_event(
            self.Completed,
            differences=len(self.differences),
            unexplained=self.unexplained,
            krw_free=krw[0],
            krw_locked=krw[1],
            base_free=base[0],
            base_locked=base[1],
            ledger_krw=ledger.krw,
            ledger_base=ledger.base,
            unrecorded_krw=unrecorded.krw,
            unrecorded_base=unrecorded.base,
            baseline_sequence=baseline_sequence,
            is_halting=is_halting,
            **cause.event_fields(),
        )

    def acknowledge(self, reason: str, *, has_resumed: bool, cause: Cause) -> None:
        """Record an operator's acknowledgement of the unexplained differences.

        Raises:
            ReconciliationAcknowledgementError: it has no unexplained difference, or was
                acknowledged already.
            MissingTextError: the reason is blank.
        """
        self.require_acknowledgeable()
        self.trigger_event(
            self.Acknowledged,
            reason=require_text(reason, "reason", REASON_MAX_CHARS),
            has_resumed=has_resumed,
            **cause.event_fields(),
        )

    def require_acknowledgeable(self) -> None:
        """Refuse an acknowledgement it does not need.

        Raises:
            ReconciliationAcknowledgementError: nothing unexplained, or acknowledged already.
        """
        if self.is_acknowledged:
            raise ReconciliationAcknowledgementError(
                f"{self.name} was already acknowledged by {self.acknowledged_by} "
                f"({self.acknowledgement}); an acknowledgement is recorded once"
            )
        if not self.needs_acknowledgement:
            raise ReconciliationAcknowledgementError(
                f"{self.name} found no unexplained difference; only a reconciliation with one "
                "needs an acknowledgement"
            )
