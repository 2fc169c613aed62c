"""The ledger's use cases as plain functions of (ledger, command), one module per group.

`COMMAND_HANDLERS` names the handler of each command an operator or a process gives; `handle`
dispatches one. Handlers that take more than a command (a batch of orders, a strategy's order
with its risk denial recorded, candles in bulk, breaches) are called by name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from commands.handlers import capital, orders, reconciliations, risk, runs
from commands.ledger_port import Ledger
from commands.messages import (
    AcceptOrder,
    AcknowledgeReconciliation,
    AllocateCapital,
    CancelOrder,
    ChangeTradingState,
    CompleteRun,
    OpenRun,
    PlaceOrder,
    RecordFill,
    RecordReconciliation,
    RecordSignal,
    RecordSubmissionFailure,
    RejectOrder,
    SetRiskLimits,
    StartRun,
)

COMMAND_HANDLERS: dict[type[Any], Callable[[Ledger, Any], object]] = {
    AllocateCapital: capital.allocate_capital,
    PlaceOrder: orders.place_operator_order,  # a strategy's: orders.place_strategy_order
    AcceptOrder: orders.accept_order,
    RecordFill: orders.record_fill,
    CancelOrder: orders.cancel_order,
    RejectOrder: orders.reject_order,
    RecordSubmissionFailure: orders.record_submission_failure,
    SetRiskLimits: risk.set_risk_limits,
    ChangeTradingState: risk.change_trading_state,
    StartRun: runs.start_run,
    RecordSignal: runs.record_signal,
    CompleteRun: runs.complete_run,
    OpenRun: runs.open_run,
    RecordReconciliation: reconciliations.record_reconciliation,
    AcknowledgeReconciliation: reconciliations.acknowledge_reconciliation,
}


class UnknownCommandError(TypeError):
    """The object given to `handle` is not a command of the ledger."""


def handle(ledger: Ledger, command: object) -> object:
    """Run the handler of `command` on `ledger`; return what it returns.

    Raises:
        UnknownCommandError: `command` is not one of COMMAND_HANDLERS' commands.
        DomainError: a rule refused the command (nothing was recorded).
    """
    handler = COMMAND_HANDLERS.get(type(command))
    if handler is None:
        names = ", ".join(sorted(kind.__name__ for kind in COMMAND_HANDLERS))
        raise UnknownCommandError(f"{type(command).__name__} is not a command; one of: {names}")
    return handler(ledger, command)
