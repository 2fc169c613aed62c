"""Use cases of a trading run's reconciliations: recorded (halting if unexplained), acknowledged.

What the exchange says is compared with the log by `commands.processes.reconciliation`; here
the balance rule is applied against the run's baseline (`domain.reconciliation.balances`), the
reconciliation is recorded, and an unexplained difference halts trading on the account's risk
record in the same transaction. An operator's acknowledgement resumes trading when the halt
in force is a reconciliation's and no other unacknowledged one remains.
"""

from __future__ import annotations

from decimal import Decimal
from uuid import UUID

from commands.errors import UnknownReconciliationError, UnknownRunError
from commands.handlers.risk import get_risk_limits, risk_or_new
from commands.handlers.runs import get_run_opened, run_opened_position
from commands.ledger_port import Ledger
from commands.messages import AcknowledgeReconciliation, RecordReconciliation
from domain.errors import ReconciliationNotApplicableError
from domain.events import Cause
from domain.ids import portfolio_id, position_id
from domain.market import parse_market
from domain.orders.order import Order
from domain.portfolio.ledger import Portfolio
from domain.positions.position import Position
from domain.reconciliation.balances import BalanceSnapshot, BookFigures, balance_differences
from domain.reconciliation.difference import Difference
from domain.reconciliation.reconciliation import Reconciliation, reconciliation_id
from domain.risk.limits import RiskLimits
from domain.risk.trading_state import TradingState
from domain.strategies.run import StrategyRun

RECONCILIATION_ACTOR = "reconciliation"
"""The actor of the halt a reconciliation records on the risk record."""
ZERO = Decimal(0)
_ENDED_TOPICS = [Order.Filled.TOPIC, Order.Cancelled.TOPIC, Order.Rejected.TOPIC]
_STATE_CHANGES = (RiskLimits.TradingHalted, RiskLimits.TradingReduced, RiskLimits.TradingResumed)


def record_reconciliation(ledger: Ledger, command: RecordReconciliation) -> Reconciliation:
    """Record a reconciliation: its differences, the balance rule's, and completion.

    An unexplained difference halts trading (actor `reconciliation`) unless it is HALTED.

    Raises:
        UnknownRunError: no trading run has this id.
        ReconciliationNotApplicableError: the run is a paper run (no exchange).
    """
    opened = require_exchange_run(ledger, command.run_id)
    base_currency = parse_market(opened.market, ledger.markets).base

    def attempt() -> Reconciliation:
        earlier = reconciliations_of_run(ledger, opened.run_id)
        rec = Reconciliation.start(
            run_id=opened.run_id,
            sequence=len(earlier) + 1,
            trigger=command.trigger,
            exchange=opened.exchange,
            market=opened.market,
            cause=command.cause,
        )
        now = BalanceSnapshot(
            exchange=BookFigures(sum(command.krw, ZERO), sum(command.base, ZERO)),
            ledger=_ledger_figures(ledger, opened),
            unrecorded=command.unrecorded,
        )
        settled = [r for r in earlier if r.is_settled]
        baseline = settled[-1] if settled else (earlier[0] if earlier else None)
        differences = list(command.differences)
        if baseline is not None:
            differences += balance_differences(
                now,
                baseline.snapshot(),
                base_currency=base_currency,
                baseline_name=f"baseline (reconciliation {baseline.sequence})",
            )
        for difference in differences:
            rec.record_difference(difference, command.cause)
        risk = None
        unexplained = [d for d in differences if not d.is_explained]
        if unexplained:
            risk = risk_or_new(ledger, command.cause)
            if risk.state is TradingState.HALTED:
                risk = None
            else:
                risk.change_state(
                    TradingState.HALTED,
                    _halt_reason(rec, unexplained),
                    _reconciliation_cause(rec, command.cause),
                )
        rec.complete(
            krw=command.krw,
            base=command.base,
            ledger=now.ledger,
            unrecorded=now.unrecorded,
            baseline_sequence=baseline.sequence if baseline else rec.sequence,
            is_halting=risk is not None,
            cause=command.cause,
        )
        ledger.save(rec, risk)
        return rec

    return ledger.retrying(attempt, f"record a reconciliation of run {opened.run_id}")


def acknowledge_reconciliation(
    ledger: Ledger, command: AcknowledgeReconciliation
) -> Reconciliation:
    """Acknowledge a reconciliation's unexplained differences; resume when it may.

    Trading resumes (ACTIVE, with the operator's actor and reason) when the last change of
    the trading state was a reconciliation's halt and no other reconciliation of the
    account still waits for an acknowledgement.

    Raises:
        UnknownReconciliationError: no reconciliation has this id.
        ReconciliationAcknowledgementError: nothing unexplained, or acknowledged already.
        MissingTextError: the reason is blank.
    """

    def attempt() -> Reconciliation:
        rec = get_reconciliation(ledger, command.reconciliation_id)
        if rec is None:
            raise UnknownReconciliationError(
                f"reconciliation {command.reconciliation_id} does not exist; "
                "`ledger reconciliations list` or GET /reconciliations lists them"
            )
        rec.require_acknowledgeable()
        others = [r for r in pending_acknowledgements(ledger) if r.id != rec.id]
        risk = get_risk_limits(ledger)
        resumes = risk is not None and not others and _halted_by_reconciliation(ledger, risk)
        rec.acknowledge(command.reason, has_resumed=resumes, cause=command.cause)
        if resumes:
            assert risk is not None
            risk.change_state(
                TradingState.ACTIVE,
                f"{rec.name} acknowledged: {command.reason.strip()}",
                command.cause,
            )
        ledger.save(rec, risk if resumes else None)
        return rec

    return ledger.retrying(attempt, f"acknowledge reconciliation {command.reconciliation_id}")


def require_exchange_run(ledger: Ledger, run_id: str) -> StrategyRun.Opened:
    """Return the opening of a trading run that trades on an exchange.

    Raises:
        UnknownRunError: no trading run has this id.
        ReconciliationNotApplicableError: the run is a paper run.
    """
    opened = get_run_opened(ledger, run_id)
    if opened is None:
        raise UnknownRunError(f"no trading run {run_id!r} is recorded")
    if opened.exchange == "paper":
        raise ReconciliationNotApplicableError(
            f"run {run_id!r} trades on the paper fill model: it has no exchange to reconcile with"
        )
    return opened


def get_reconciliation(ledger: Ledger, reconciliation_id_: UUID) -> Reconciliation | None:
    """Return the reconciliation with this id, or None."""
    return ledger.find(reconciliation_id_, Reconciliation)


def reconciliations_of_run(ledger: Ledger, run_id: str) -> list[Reconciliation]:
    """Return a run's reconciliations, first to last."""
    found: list[Reconciliation] = []
    while True:
        rec = get_reconciliation(ledger, reconciliation_id(run_id, len(found) + 1))
        if rec is None:
            return found
        found.append(rec)


def pending_acknowledgements(ledger: Ledger) -> list[Reconciliation]:
    """Return the account's reconciliations whose unexplained differences wait, oldest first."""
    completed = [
        event.originator_id
        for _, event in ledger.read_events([Reconciliation.Completed.TOPIC])
        if isinstance(event, Reconciliation.Completed) and event.unexplained
    ]
    acknowledged = {
        event.originator_id for _, event in ledger.read_events([Reconciliation.Acknowledged.TOPIC])
    }
    pending = []
    for rec_id in completed:
        if rec_id in acknowledged:
            continue
        rec = get_reconciliation(ledger, rec_id)
        if rec is not None and rec.needs_acknowledgement:
            pending.append(rec)
    return pending


def accepted_differences(ledger: Ledger, run_id: str) -> dict[tuple[str, str | None], str]:
    """Return (kind, order id) of the run's acknowledged differences, with who accepted them."""
    accepted: dict[tuple[str, str | None], str] = {}
    for rec in reconciliations_of_run(ledger, run_id):
        if not rec.is_acknowledged:
            continue
        for d in rec.differences:
            if not d["is_explained"]:
                note = (
                    f"acknowledged in reconciliation {rec.sequence} by {rec.acknowledged_by}"
                    f" ({rec.acknowledgement})"
                )
                accepted[(d["kind"], d["order_id"])] = note
    return accepted


def working_orders_of_run(ledger: Ledger, opened: StrategyRun.Opened) -> list[Order]:
    """Return the orders of the run's strategies placed since it opened and not ended."""
    start = run_opened_position(ledger, opened.run_id) or 0
    placed: list[UUID] = []
    for _, event in ledger.read_events([Order.Placed.TOPIC], after=start):
        if (
            isinstance(event, Order.Placed)
            and event.strategy_id in opened.strategies
            and event.market == opened.market
        ):
            placed.append(event.originator_id)
    ended = {event.originator_id for _, event in ledger.read_events(_ENDED_TOPICS, after=start)}
    orders = [ledger.find(i, Order) for i in placed if i not in ended]
    return [o for o in orders if o is not None and o.status.is_pending]


def _ledger_figures(ledger: Ledger, opened: StrategyRun.Opened) -> BookFigures:
    portfolio = ledger.find(portfolio_id(ledger.account), Portfolio)
    krw = sum(
        (portfolio.cash_krw.get(s, ZERO) for s in opened.strategies) if portfolio else (),
        ZERO,
    )
    base = ZERO
    for strategy_id in opened.strategies:
        pid = position_id(ledger.account, strategy_id, opened.market)
        position = ledger.find(pid, Position)
        base += position.qty_btc if position is not None else ZERO
    return BookFigures(krw, base)


def _halted_by_reconciliation(ledger: Ledger, risk: RiskLimits) -> bool:
    if risk.state is not TradingState.HALTED:
        return False
    for event in ledger.events.get(risk.id, desc=True):
        if isinstance(event, _STATE_CHANGES):
            return event.actor == RECONCILIATION_ACTOR
    return False


def _halt_reason(rec: Reconciliation, unexplained: list[Difference]) -> str:
    listed = "; ".join(d.describe() for d in unexplained[:5])
    more = f" and {len(unexplained) - 5} more" if len(unexplained) > 5 else ""
    return (
        f"{rec.name} ({rec.trigger}) found {len(unexplained)} unexplained difference(s): "
        f"{listed}{more}; acknowledge it to resume"
    )


def _reconciliation_cause(rec: Reconciliation, cause: Cause) -> Cause:
    return Cause(
        cause.occurred_at, RECONCILIATION_ACTOR, f"reconciliation:{rec.id}", cause.correlation_id
    )
