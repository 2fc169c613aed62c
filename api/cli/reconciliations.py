"""`ledger reconcile` and `ledger reconciliations ...`: a run's exchange against the log."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any
from uuid import UUID

import typer

from api.cli.context import ACTOR_OPTION, JSON_OPTION, console, make_cause, open_system, print_json

if TYPE_CHECKING:
    from commands.trading import Trading
    from domain.reconciliation.reconciliation import Reconciliation

HOW = (
    "A reconciliation compares a trading run's exchange (sandbox or Upbit) with the log: its "
    "open orders, its view of every order the log holds NEW/OPEN/PARTIAL (their trades) and the "
    "balances. Each difference is recorded, explained or not; an unexplained one halts trading "
    "until an operator acknowledges it. `ledger run` reconciles at start and after every "
    "reconnect; paper runs have no exchange and are not reconciled. docs/trading.md "
    '"Reconciliation".'
)

app = typer.Typer(
    help=f"List reconciliations and acknowledge their unexplained differences. {HOW}",
    no_args_is_help=True,
)

RunOption = Annotated[
    str | None, typer.Option(help="The trading run (default: the newest run on an exchange).")
]


class ReconcileInputError(Exception):
    """`ledger reconcile` has no run on an exchange to reconcile (exit code 2)."""


def reconcile(
    ctx: typer.Context,
    run_id: RunOption = None,
    exchange_url: Annotated[
        str | None,
        typer.Option(help="The exchange's REST URL: a running sandbox, or Upbit (upbit.rest_url)."),
    ] = None,
    as_json: bool = JSON_OPTION,
) -> None:
    """Reconcile a trading run with its exchange now (trigger `operator`) and show what differs.

    Example: ledger reconcile --run-id sandbox-main-20230309T0000Z --exchange-url
    http://127.0.0.1:8765 --json

    Exit 0 when recorded (even with differences: an unexplained one halts trading and is
    listed), 2 for an unknown or paper run, 3 when the exchange cannot be asked.
    """
    from datetime import UTC, datetime

    from adapters.upbit.execution import UpbitExecutionGateway
    from adapters.upbit.rest import UpbitRestClient
    from api.cli.trading_run import exchange_credentials
    from commands.handlers import reconciliations
    from commands.processes.reconciliation import Reconciler
    from domain.events import Cause

    with open_system(ctx) as system:
        trading = system.trading
        opened = reconciliations.require_exchange_run(
            trading, run_id or _newest_exchange_run(trading)
        )
        credentials = exchange_credentials(system.settings, opened.exchange)
        rest = UpbitRestClient(
            exchange_url or system.settings.upbit.rest_url, credentials=credentials
        )
        try:
            gateway = UpbitExecutionGateway(rest, name=opened.exchange, fee_rate=opened.fee_rate)
            at = datetime.now(tz=UTC)
            cause = Cause(at, "reconciliation", f"cli:reconcile:{opened.run_id}", opened.run_id)
            rec = Reconciler(trading, gateway).reconcile(opened.run_id, "operator", cause)
        finally:
            rest.close()
        _show([rec], trading, as_json=as_json)


@app.command("list")
def list_reconciliations(
    ctx: typer.Context, run_id: RunOption = None, as_json: bool = JSON_OPTION
) -> None:
    """List a run's reconciliations (all runs on an exchange by default), oldest first.

    Example: ledger reconciliations list --json
    """
    from commands.handlers import reconciliations
    from commands.parity import trading_runs

    with open_system(ctx, read_only=True) as system:
        trading = system.trading
        runs = (
            [run_id]
            if run_id
            else [o.run_id for _, o in trading_runs(trading) if o.exchange != "paper"]
        )
        found = [
            rec for name in runs for rec in reconciliations.reconciliations_of_run(trading, name)
        ]
        _show(found, trading, as_json=as_json)


@app.command("acknowledge")
def acknowledge(
    ctx: typer.Context,
    reconciliation_id: Annotated[str, typer.Argument(help="The reconciliation's id (a UUID).")],
    reason: Annotated[str, typer.Option(help="Why its differences are accepted (recorded).")],
    actor: str | None = ACTOR_OPTION,
) -> None:
    """Acknowledge a reconciliation's unexplained differences, with a reason.

    Trading resumes (ACTIVE, with your actor and reason) when the halt in force is a
    reconciliation's and no other one waits for an acknowledgement; an operator's own halt is
    left alone. Example: ledger reconciliations acknowledge 0d4c…  --reason "my manual order"
    """
    from commands.handlers import reconciliations
    from commands.messages import AcknowledgeReconciliation

    try:
        rec_id = UUID(reconciliation_id)
    except ValueError:
        raise ReconcileInputError(
            f"reconciliation id {reconciliation_id!r} is not a UUID; "
            "`ledger reconciliations list` shows the ids"
        ) from None
    with open_system(ctx) as system:
        rec = reconciliations.acknowledge_reconciliation(
            system.trading, AcknowledgeReconciliation(rec_id, reason, make_cause(actor))
        )
        _show([rec], system.trading, as_json=False)


def _newest_exchange_run(trading: Trading) -> str:
    from commands.parity import trading_runs

    runs = [o.run_id for _, o in trading_runs(trading) if o.exchange != "paper"]
    if not runs:
        raise ReconcileInputError(
            "no trading run on an exchange is in the log (paper runs are not reconciled); "
            "start one with `ledger run --exchange sandbox|upbit`"
        )
    return runs[-1]


def view(rec: Reconciliation) -> dict[str, Any]:
    """Return a reconciliation as plain values."""
    return {
        "reconciliation_id": str(rec.id),
        "run_id": rec.run_id,
        "sequence": rec.sequence,
        "trigger": rec.trigger,
        "exchange": rec.exchange,
        "differences": rec.differences,
        "unexplained": rec.unexplained,
        "is_halting": rec.is_halting,
        "needs_acknowledgement": rec.needs_acknowledgement,
        "acknowledged_by": rec.acknowledged_by,
        "acknowledgement": rec.acknowledgement,
        **rec.figures,
    }


def _show(found: list[Reconciliation], trading: Trading, *, as_json: bool) -> None:
    risk = trading.get_risk_limits()
    if as_json:
        print_json(
            {
                "reconciliations": [view(r) for r in found],
                "trading_state": risk.state.value if risk else "ACTIVE",
            }
        )
        return
    if not found:
        console.print("no reconciliation recorded")
    for rec in found:
        waits = " WAITS FOR AN ACKNOWLEDGEMENT" if rec.needs_acknowledgement else ""
        acknowledged = (
            f", acknowledged by {rec.acknowledged_by}: {rec.acknowledgement}"
            if rec.acknowledged_by
            else ""
        )
        console.print(
            f"{rec.id}  run {rec.run_id} #{rec.sequence} ({rec.trigger}): "
            f"{len(rec.differences)} difference(s), {rec.unexplained} unexplained"
            f"{', halted trading' if rec.is_halting else ''}{acknowledged}{waits}"
        )
        for d in rec.differences:
            mark = "explained" if d["is_explained"] else "UNEXPLAINED"
            about = f" order {d['order_id']}" if d["order_id"] else ""
            console.print(
                f"    {mark} {d['kind']}{about}: exchange says {d['exchange_says']}; "
                f"log says {d['log_says']} ({d['explanation']})"
            )
    if risk is not None:
        console.print(f"trading {risk.state.value} ({risk.state_reason})")
