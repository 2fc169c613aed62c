"""The use cases that record runs of the strategies: started, their signals, completed."""

from __future__ import annotations

from dataclasses import fields
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from commands.candle_ingestion import CandleIngestion
from commands.errors import DuplicateRunError, UnknownRunError
from commands.messages import CompleteRun, RecordSignal, StartRun
from domain.errors import DuplicateSignalError
from domain.market import parse_market
from domain.strategies.run import StrategyRun, run_aggregate_id
from domain.strategies.signal import Signal


class RunRecords(CandleIngestion):
    """Runs of the strategies in the log: one StrategyRun aggregate per run id."""

    def start_run(self, command: StartRun) -> None:
        """Record `strategy.run.started` with the run's inputs.

        Raises:
            DuplicateRunError: a run with this id is already recorded.
            InvalidRunError: an unknown mode, no strategies or no candles.
        """
        inputs = {f.name: getattr(command, f.name) for f in fields(command)}
        inputs["market"] = parse_market(command.market, self.markets).code
        run = StrategyRun.start(**inputs)
        try:
            self.save(run)
        except IntegrityError:
            raise DuplicateRunError(
                f"run {command.run_id!r} is already recorded: a run is recorded once"
            ) from None

    def complete_run(self, command: CompleteRun) -> None:
        """Record `strategy.run.completed` with the replay hash of the run's decisions.

        Raises:
            UnknownRunError: no run has this id.
            RunAlreadyCompletedError: the run was completed before.
        """

        def attempt() -> None:
            run = self.get_run(command.run_id)
            if run is None:
                raise UnknownRunError(f"no run {command.run_id!r} is recorded")
            run.complete(
                candles_processed=command.candles_processed,
                decisions=command.decisions,
                replay_hash=command.replay_hash,
                cause=command.cause,
            )
            self.save(run)

        self._retrying(attempt, f"complete run {command.run_id}", in_turn=False)

    def record_signal(self, command: RecordSignal) -> UUID:
        """Record a strategy's decision as a `strategy.signal.created` event; return its id.

        Raises:
            DuplicateSignalError: this run already has that strategy's signal at that candle.
        """
        signal = Signal.create(
            run_id=command.run_id,
            strategy_id=command.strategy_id,
            market=parse_market(command.market, self.markets).code,
            candle_open_time=command.candle_open_time,
            rank=command.rank,
            intent=command.intent,
            cause=command.cause,
        )
        try:
            self.save(signal)
        except IntegrityError:
            raise DuplicateSignalError(
                f"signal {signal.id} ({command.strategy_id} at {command.candle_open_time}, rank "
                f"{command.rank}) of run {command.run_id} is already recorded"
            ) from None
        return UUID(str(signal.id))

    def get_run(self, run_id: str) -> StrategyRun | None:
        """Return the run with this id, or None."""
        return self._find(run_aggregate_id(run_id), StrategyRun)
