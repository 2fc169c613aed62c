"""Use cases of runs: a backtest recorded (started, signals, completed); a trading run opened.

A trading run (paper or live) is opened once, with its capital, and resumed after.
"""

from __future__ import annotations

from dataclasses import fields
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from commands.errors import DuplicateRunError, UnknownRunError
from commands.handlers.orders import get_portfolio
from commands.handlers.risk import risk_or_new
from commands.ledger_port import Ledger
from commands.messages import CompleteRun, OpenRun, RecordSignal, StartRun
from domain.errors import DuplicateSignalError
from domain.market import parse_market
from domain.portfolio.ledger import Portfolio
from domain.strategies.run import StrategyRun, run_aggregate_id
from domain.strategies.signal import Signal


def get_run(ledger: Ledger, run_id: str) -> StrategyRun | None:
    """Return the run with this id, or None."""
    return ledger.find(run_aggregate_id(run_id), StrategyRun)


def get_run_opened(ledger: Ledger, run_id: str) -> StrategyRun.Opened | None:
    """Return the `strategy.run.opened` event of a trading run, or None."""
    if get_run(ledger, run_id) is None:
        return None
    first = next(iter(ledger.events.get(run_aggregate_id(run_id), lte=1)), None)
    return first if isinstance(first, StrategyRun.Opened) else None


def run_opened_position(ledger: Ledger, run_id: str) -> int | None:
    """Return the log position of a trading run's `strategy.run.opened`, or None."""
    for position, event in ledger.read_events([StrategyRun.Opened.TOPIC]):
        if isinstance(event, StrategyRun.Opened) and event.run_id == run_id:
            return position
    return None


def start_run(ledger: Ledger, command: StartRun) -> None:
    """Record `strategy.run.started` with the run's inputs.

    Raises:
        DuplicateRunError: a run with this id is already recorded.
        InvalidRunError: an unknown mode, no strategies or no candles.
    """
    inputs = {f.name: getattr(command, f.name) for f in fields(command)}
    inputs["market"] = parse_market(command.market, ledger.markets).code
    run = StrategyRun.start(**inputs)
    try:
        ledger.save(run)
    except IntegrityError:
        raise DuplicateRunError(
            f"run {command.run_id!r} is already recorded: a run is recorded once"
        ) from None


def complete_run(ledger: Ledger, command: CompleteRun) -> None:
    """Record `strategy.run.completed` with the replay hash of the run's decisions.

    Raises:
        UnknownRunError: no run has this id.
        RunAlreadyCompletedError: the run was completed before.
    """

    def attempt() -> None:
        run = get_run(ledger, command.run_id)
        if run is None:
            raise UnknownRunError(f"no run {command.run_id!r} is recorded")
        run.complete(
            candles_processed=command.candles_processed,
            decisions=command.decisions,
            replay_hash=command.replay_hash,
            cause=command.cause,
        )
        ledger.save(run)

    ledger.retrying(attempt, f"complete run {command.run_id}", in_turn=False)


def record_signal(ledger: Ledger, command: RecordSignal) -> UUID:
    """Record a strategy's decision as a `strategy.signal.created` event; return its id.

    Raises:
        DuplicateSignalError: this run already has that strategy's signal at that candle.
    """
    signal = Signal.create(
        run_id=command.run_id,
        strategy_id=command.strategy_id,
        market=parse_market(command.market, ledger.markets).code,
        candle_open_time=command.candle_open_time,
        rank=command.rank,
        intent=command.intent,
        cause=command.cause,
    )
    try:
        ledger.save(signal)
    except IntegrityError:
        raise DuplicateSignalError(
            f"signal {signal.id} ({command.strategy_id} at {command.candle_open_time}, rank "
            f"{command.rank}) of run {command.run_id} is already recorded"
        ) from None
    return UUID(str(signal.id))


def open_run(ledger: Ledger, command: OpenRun) -> None:
    """Record `strategy.run.opened` and allocate its capital to each strategy without any.

    A strategy that already has capital in the account keeps its book (cash, positions) from
    before: the run trades on with it. Run, account and capital are one transaction.

    Raises:
        DuplicateRunError: a run with this id is already recorded.
        InvalidRunError: a bad mode, exchange, strategy list or first candle.
    """
    if get_run(ledger, command.run_id) is not None:
        raise DuplicateRunError(f"run {command.run_id!r} is already recorded")
    inputs = {f.name: getattr(command, f.name) for f in fields(command)}
    inputs["market"] = parse_market(command.market, ledger.markets).code
    run = StrategyRun.open_live(**inputs)

    def attempt() -> None:
        portfolio = get_portfolio(ledger)
        risk = None
        if portfolio is None:
            portfolio = Portfolio.open(account=ledger.account, cause=command.cause)
            risk = risk_or_new(ledger, command.cause)
        for strategy_id in command.strategies:
            if strategy_id not in portfolio.allocated_krw:
                portfolio.allocate(strategy_id, command.capital_krw, command.cause)
        ledger.save(portfolio, risk, run)  # the run last: the account as it opened precedes it

    ledger.retrying(attempt, f"open run {command.run_id}")
