"""Reconciliations of trading runs: one row each, and one per difference it found."""

from __future__ import annotations

from typing import ClassVar

from domain.events import LedgerEvent
from domain.reconciliation.reconciliation import Reconciliation
from projections.projection import Projection
from projections.rows import Insert, RowOp, Update


class ReconciliationsProjection(Projection):
    """One row per reconciliation (counts, balances, acknowledgement) and one per difference."""

    name: ClassVar[str] = "reconciliations"
    tables: ClassVar[tuple[str, ...]] = ("rm_reconciliations", "rm_reconciliation_differences")

    def rows(self, event: LedgerEvent, position: int) -> list[RowOp]:
        """Return the rows of a reconciliation event; nothing for others."""
        key = {"reconciliation_id": event.originator_id}
        match event:
            case Reconciliation.Started():
                row = {
                    **key,
                    "run_id": event.run_id,
                    "sequence": event.sequence,
                    "trigger": event.trigger,
                    "exchange": event.exchange,
                    "market": event.market,
                    "started_at": event.occurred_at,
                    "position": position,
                }
                return [Insert("rm_reconciliations", row)]
            case Reconciliation.DifferenceFound():
                difference = {
                    **key,
                    "position": position,
                    "kind": event.kind,
                    "order_id": event.order_id,
                    "exchange_says": event.exchange_says,
                    "log_says": event.log_says,
                    "is_explained": event.is_explained,
                    "explanation": event.explanation,
                }
                return [Insert("rm_reconciliation_differences", difference)]
            case Reconciliation.Completed():
                figures = {
                    name: getattr(event, name)
                    for name in (
                        "differences",
                        "unexplained",
                        "krw_free",
                        "krw_locked",
                        "base_free",
                        "base_locked",
                        "ledger_krw",
                        "ledger_base",
                        "unrecorded_krw",
                        "unrecorded_base",
                        "baseline_sequence",
                        "is_halting",
                    )
                }
                return [Update("rm_reconciliations", key, {**figures, "is_completed": True})]
            case Reconciliation.Acknowledged():
                acknowledged = {
                    "is_acknowledged": True,
                    "acknowledged_by": event.actor,
                    "acknowledgement": event.reason,
                    "has_resumed": event.has_resumed,
                    "acknowledged_at": event.occurred_at,
                }
                return [Update("rm_reconciliations", key, acknowledged)]
        return []
