"""The ledger: the one event log of an account, and its use cases (`commands/handlers/`).

`Trading` owns what every use case needs of the log: load (`find`), save (with the audit
chain's checkpoints and snapshots), the account's writer turn and the bounded retry of a lost
write race (`retrying`, tenacity: the one retry of the write side). Its use-case methods are a
facade: each delegates to a plain handler function, one module per group (orders, capital,
risk, candles, runs, reconciliations), listed in `commands.handlers.COMMAND_HANDLERS`.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any, ClassVar, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import (
    IntegrityError,
    JSONTranscoder,
    ProcessRecorder,
    Recording,
)
from eventsourcing.utils import register_topic
from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_incrementing,
)

from commands.chain_checkpoints import record_due_checkpoints
from commands.errors import ConcurrencyConflictError
from commands.handlers import candles, capital, handle, orders, risk, runs
from commands.handlers.candles import CandleIngestReport
from commands.handlers.orders import OrderPlacement
from commands.held_saves import HeldSaves, take_crossed_snapshots
from commands.messages import (
    AcceptOrder,
    AllocateCapital,
    CancelOrder,
    ChangeTradingState,
    CompleteRun,
    IngestCandles,
    OpenRun,
    PlaceOrder,
    RecordFill,
    RecordSignal,
    RecordSubmissionFailure,
    RejectOrder,
    SetRiskLimits,
    StartRun,
)
from commands.run_progress import RUN_PROGRESS_KWARG, RunProgress
from commands.transcodings import STORED_ENUMS, EnumTranscoding
from commands.writer_turns import ProcessWriterTurns, Turn, WriterTurns
from domain.candles.candle_hour import CandleHour
from domain.constants import DEFAULT_FEE_RATE
from domain.event_names import EVENT_CLASS_BY_BUS_NAME
from domain.events import Cause
from domain.market import DEFAULT_MARKETS
from domain.orders.order import Order
from domain.portfolio.ledger import Portfolio
from domain.positions.position import Position
from domain.risk.breach import Breach
from domain.risk.limits import RiskLimits
from domain.strategies.run import StrategyRun

__all__ = [
    "CandleIngestReport",
    "OrderPlacement",
    "Trading",
    "register_event_topics",
]

T = TypeVar("T")
A = TypeVar("A")
DEFAULT_CONFLICT_RETRIES = 10
READ_PAGE = 5000
CHECKPOINT_EVERY_ENV = "AUDIT_CHECKPOINT_EVERY"
"""The environment key of the audit chain's checkpoint interval (events; default 10,000)."""
CONFLICT_BACKOFF_S = 0.002
"""Pause before retry n is n x this: racing writers drift apart instead of colliding again."""


def register_event_topics() -> None:
    """Register every event class under its bus name, so stored topics resolve on load."""
    for name, event_class in EVENT_CLASS_BY_BUS_NAME.items():
        register_topic(name, event_class)


class Trading(Application[UUID]):
    """The ledger's one event log, its plumbing, and its use cases as a facade."""

    name = "Ledger"  # names the tables (ledger_events); never derived from the class name
    is_snapshotting_enabled = True
    snapshot_every: ClassVar[dict[type, int]] = {
        Order: 100,
        Position: 100,
        Portfolio: 100,
        RiskLimits: 100,
        CandleHour: 30,
    }
    """Snapshot an aggregate each time a save takes it past a multiple of this many events."""

    env = {
        # Keep recently used aggregates in memory; every get still fetches newer events from
        # the log ("fast-forward"), so other writers' changes are always seen.
        "AGGREGATE_CACHE_MAXSIZE": "4096",
        "AGGREGATE_CACHE_FASTFORWARD": "y",
        "DEEPCOPY_FROM_AGGREGATE_CACHE": "y",
    }

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        account: str = "main",
        markets: frozenset[str] = DEFAULT_MARKETS,
        fee_rate: Decimal = DEFAULT_FEE_RATE,
        conflict_retries: int = DEFAULT_CONFLICT_RETRIES,
    ) -> None:
        if not isinstance(fee_rate, Decimal) or not Decimal(0) <= fee_rate < Decimal("0.01"):
            raise ValueError(f"fee rate {fee_rate!r} must be a Decimal in [0, 0.01)")
        register_event_topics()
        self.account = account
        self.markets = markets
        self.fee_rate = fee_rate
        self.conflict_retries = max(1, conflict_retries)
        self._conflict_retries = Retrying(
            stop=stop_after_attempt(self.conflict_retries),
            # Racing writers drift apart instead of colliding again.
            wait=wait_incrementing(start=CONFLICT_BACKOFF_S, increment=CONFLICT_BACKOFF_S),
            retry=retry_if_exception_type(IntegrityError),
        )
        super().__init__(dict(env) if env is not None else None)
        # PostgreSQL's recorder gives turns among processes; an in-memory log, among threads.
        make_turns: Callable[[], WriterTurns] | None = getattr(self.recorder, "writer_turns", None)
        self.writer_turns: WriterTurns = make_turns() if make_turns else ProcessWriterTurns()
        self._turns = threading.local()  # the turn this thread holds, if any
        self._work = threading.local()  # the saves `holding_saves` holds, if any
        self._progress_in_memory: dict[str, RunProgress] = {}
        every = self.env.get(CHECKPOINT_EVERY_ENV)
        if every and hasattr(self.recorder, "checkpoint_every"):
            setattr(self.recorder, "checkpoint_every", max(1, int(every)))  # noqa: B010

    def construct_recorder(self) -> ProcessRecorder:
        """Use a process recorder, so process managers can track their position in the log."""
        return self.factory.process_recorder()

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        """Record the new events of these aggregates (or these events) in one transaction.

        Within `holding_saves` they are held. `kwargs` reach the recorder
        (`run_progress`). Then snapshots from memory (`take_crossed_snapshots`) and the audit
        chain's due checkpoints.
        """
        work: HeldSaves | None = getattr(self._work, "current", None)
        if work is not None:
            work.hold(objs)
            return []
        return self._save_now(objs, kwargs)

    @contextlib.contextmanager
    def holding_saves(self) -> Iterator[HeldSaves]:
        """Hold every save made within (this thread): give them to one `save` afterwards.

        Within, a `find` returns an aggregate as changed by a held save. The held events keep
        the order they were made in; nothing is recorded unless the caller saves them.
        """
        if getattr(self._work, "current", None) is not None:
            raise RuntimeError("holding_saves does not nest")
        held = HeldSaves()
        self._work.current = held
        try:
            yield held
        finally:
            self._work.current = None

    def _save_now(self, objs: Sequence[Any], kwargs: Mapping[str, Any]) -> list[Recording[UUID]]:
        held = HeldSaves()
        held.hold(objs)
        events, aggregates = held.events, held.aggregates
        turn: Turn | None = getattr(self._turns, "current", None)
        if turn is not None:
            turn.granted()  # no other process saves on the account from here to the turn's end
        recordings = super().save(*events, *aggregates.values(), **kwargs)
        progress: RunProgress | None = kwargs.get(RUN_PROGRESS_KWARG)
        if progress is not None and not hasattr(self.recorder, "select_run_progress"):
            self._progress_in_memory[progress.run_id] = progress  # an in-memory log
        take_crossed_snapshots(self.snapshots, self.snapshot_every, events, aggregates)
        record_due_checkpoints(self)
        return recordings

    def read_run_progress(self, run_id: str) -> RunProgress | None:
        """Return a trading run's last recorded progress (None before its first candle)."""
        select: Callable[[str], RunProgress | None] | None = getattr(
            self.recorder, "select_run_progress", None
        )
        if select is not None:
            return select(run_id)
        return self._progress_in_memory.get(run_id)

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        """Register the library's transcodings and the domain's enums (for snapshots)."""
        super().register_transcodings(transcoder)
        for enum_class in STORED_ENUMS:
            transcoder.register(EnumTranscoding(enum_class))

    def read_events(
        self, topics: Sequence[str], *, after: int = 0, upto: int | None = None
    ) -> Iterator[tuple[int, DomainEventProtocol[UUID]]]:
        """Yield (log position, event) of these topics after `after`, up to `upto`, in order."""
        last = after
        while True:
            page = self.recorder.select_notifications(
                start=last, limit=READ_PAGE, stop=upto, topics=topics, inclusive_of_start=False
            )
            if not page:
                return
            for notification in page:
                yield notification.id, self.mapper.to_domain_event(notification)
            last = page[-1].id

    def find(self, aggregate_id: UUID, kind: type[A]) -> A | None:
        """Return the aggregate with this id if it is a `kind` (fresh from the log), else None.

        Within `holding_saves`, an aggregate a held save changed is returned as changed.
        """
        work: HeldSaves | None = getattr(self._work, "current", None)
        if work is not None and aggregate_id in work.aggregates:
            held = work.aggregates[aggregate_id]
            return held if isinstance(held, kind) else None
        try:
            aggregate: object = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        # An id of another kind of aggregate is not one of `kind`: not found, for the caller.
        return aggregate if isinstance(aggregate, kind) else None

    def close(self) -> None:
        """Close the log's connections, the writers' turns' included."""
        close_turns: Callable[[], None] | None = getattr(self.writer_turns, "close", None)
        if close_turns is not None:
            close_turns()
        super().close()

    @contextlib.contextmanager
    def account_turn(self) -> Iterator[None]:
        """Hold the account's writer turn: decide and save while no other writer saves."""
        with self.writer_turns.hold(self.account) as turn:
            outer = getattr(self._turns, "current", None)
            self._turns.current = turn
            try:
                yield
            finally:
                self._turns.current = outer

    def retrying(self, attempt: Callable[[], T], what: str, *, in_turn: bool = True) -> T:
        """Decide and save with `attempt`, holding the account's writer turn (`in_turn`).

        Within the turn a save loses its version check at most once (reads that overlapped
        another process's save, `commands.writer_turns`); an aggregate of no account, such as
        a candle hour, is written without a turn. Either way a lost race reloads and decides
        again, `conflict_retries` attempts in all, with a growing pause (2 ms x attempt).

        Raises:
            ConcurrencyConflictError: every attempt lost its race; nothing was recorded.
        """
        # Saves held by `holding_saves` are made later, in their holder's turn.
        is_held = getattr(self._work, "current", None) is not None
        with self.account_turn() if in_turn and not is_held else contextlib.nullcontext():
            try:
                # One policy object for every call: tenacity keeps a call's state per thread
                # and per iteration, so threads and a retry inside an attempt do not mix.
                return self._conflict_retries(attempt)
            except RetryError:
                raise ConcurrencyConflictError(
                    f"{what}: other writers changed the same records {self.conflict_retries} "
                    "times in a row; nothing was recorded; try again"
                ) from None

    # The use cases: each delegates to its handler (commands/handlers/).
    def handle(self, command: object) -> object:
        """Run `command`'s handler (`commands.handlers.COMMAND_HANDLERS`); return its result."""
        return handle(self, command)

    def allocate_capital(self, command: AllocateCapital) -> None:
        """`commands.handlers.capital.allocate_capital`."""
        capital.allocate_capital(self, command)

    def place_order(self, command: PlaceOrder) -> UUID:
        """Place one order; return its id (`commands.handlers.orders.place_orders`)."""
        return orders.place_orders(self, [command])[0]

    def place_orders(self, commands: Sequence[PlaceOrder]) -> list[UUID]:
        """`commands.handlers.orders.place_orders`."""
        return orders.place_orders(self, commands)

    def place_operator_order(self, command: PlaceOrder) -> UUID:
        """`commands.handlers.orders.place_operator_order`."""
        return orders.place_operator_order(self, command)

    def place_strategy_order(
        self, command: PlaceOrder, *, risk_seen: orders.RiskSeen | None = None
    ) -> OrderPlacement:
        """`commands.handlers.orders.place_strategy_order`."""
        return orders.place_strategy_order(self, command, risk_seen=risk_seen)

    def accept_order(self, command: AcceptOrder) -> None:
        """`commands.handlers.orders.accept_order`."""
        orders.accept_order(self, command)

    def record_fill(self, command: RecordFill) -> bool:
        """`commands.handlers.orders.record_fill`."""
        return orders.record_fill(self, command)

    def cancel_order(self, command: CancelOrder) -> None:
        """`commands.handlers.orders.cancel_order`."""
        orders.cancel_order(self, command)

    def reject_order(self, command: RejectOrder) -> None:
        """`commands.handlers.orders.reject_order`."""
        orders.reject_order(self, command)

    def record_submission_failure(self, command: RecordSubmissionFailure) -> None:
        """`commands.handlers.orders.record_submission_failure`."""
        orders.record_submission_failure(self, command)

    def record_breaches(self, breaches: Sequence[Breach], cause: Cause) -> None:
        """`commands.handlers.risk.record_breaches`."""
        risk.record_breaches(self, breaches, cause)

    def set_risk_limits(self, command: SetRiskLimits) -> None:
        """`commands.handlers.risk.set_risk_limits`."""
        risk.set_risk_limits(self, command)

    def change_trading_state(self, command: ChangeTradingState) -> None:
        """`commands.handlers.risk.change_trading_state`."""
        risk.change_trading_state(self, command)

    def ingest_candles(
        self, commands: Sequence[IngestCandles], *, assume_new: bool = False
    ) -> CandleIngestReport:
        """`commands.handlers.candles.ingest_candles`."""
        return candles.ingest_candles(self, commands, assume_new=assume_new)

    def start_run(self, command: StartRun) -> None:
        """`commands.handlers.runs.start_run`."""
        runs.start_run(self, command)

    def complete_run(self, command: CompleteRun) -> None:
        """`commands.handlers.runs.complete_run`."""
        runs.complete_run(self, command)

    def record_signal(self, command: RecordSignal) -> UUID:
        """`commands.handlers.runs.record_signal`."""
        return runs.record_signal(self, command)

    def open_run(self, command: OpenRun) -> None:
        """`commands.handlers.runs.open_run`."""
        runs.open_run(self, command)

    # Queries of the write model, as their handler modules answer them.
    def get_order(self, order_id_: UUID) -> Order:
        """`commands.handlers.orders.get_order` (raises `UnknownOrderError`)."""
        return orders.get_order(self, order_id_)

    def get_portfolio(self) -> Portfolio | None:
        """`commands.handlers.orders.get_portfolio`."""
        return orders.get_portfolio(self)

    def get_position(self, strategy_id: str, market: str) -> Position | None:
        """`commands.handlers.orders.get_position`."""
        return orders.get_position(self, strategy_id, market)

    def get_risk_limits(self) -> RiskLimits | None:
        """`commands.handlers.risk.get_risk_limits`."""
        return risk.get_risk_limits(self)

    def get_run(self, run_id: str) -> StrategyRun | None:
        """`commands.handlers.runs.get_run`."""
        return runs.get_run(self, run_id)

    def get_run_opened(self, run_id: str) -> StrategyRun.Opened | None:
        """`commands.handlers.runs.get_run_opened`."""
        return runs.get_run_opened(self, run_id)

    def run_opened_position(self, run_id: str) -> int | None:
        """`commands.handlers.runs.run_opened_position`."""
        return runs.run_opened_position(self, run_id)
