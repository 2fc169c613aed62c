"""The one composition root: settings in, a wired system out (style S1.2).

Every entry point (CLI command, API server, later each process) starts here. Each port is an
explicit keyword parameter, so tests pass in-memory persistence or fakes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from adapters.postgres.chain_reader import ChainReader
from adapters.postgres.event_store import ensure_schema, eventsourcing_env, schema_setup_lock
from adapters.postgres.log_listener import LogListener
from adapters.postgres.migrator import Migrator
from adapters.postgres.projection_writer import LogReader, ProjectionWriter
from adapters.postgres.read_model_queries import PostgresReadModelQueries
from adapters.postgres.read_model_store import ReadModelStore
from adapters.postgres.run_lease import RunLease
from adapters.postgres.snapshot_audit import SnapshotAudit
from api.cursor_key import cursor_key
from api.server_urls import ServiceUnavailableError as ServiceUnavailableError
from api.server_urls import database_conninfo as database_conninfo
from api.server_urls import embedded_services as embedded_services
from api.server_urls import nats_url as nats_url
from api.settings import Settings
from commands.trading import Trading
from domain.candles.candle import Candle
from domain.events import Cause
from domain.fills.paper_fill_model import FillModel
from domain.market import DEFAULT_MARKETS
from domain.strategies.run import StrategyRun
from projections.catalogue import PROJECTIONS, projection_named
from projections.queries import ReadModelQueries

if TYPE_CHECKING:
    # What runs a trading run or the CQRS pipeline (NATS, the exchange's clients, the run's
    # loop) is imported where it is wired: a command that only reads or writes the log (most
    # of the CLI) does not load it.
    from adapters.nats.pipeline import CqrsPipeline
    from adapters.nats.stream import LogStream
    from adapters.trading.service import TradingService, TradingStatus
    from adapters.upbit.auth import UpbitCredentials
    from adapters.upbit.rest import UpbitRestClient
    from commands.processes.candle_feed import LogCandleFeed
    from commands.run_engine.execution import Execution


@dataclass
class System:
    """The wired ledger: its settings, the write side, and the read models' queries."""

    settings: Settings
    trading: Trading
    queries: ReadModelQueries | None = None

    def chain_reader(self) -> ChainReader:
        """Return a reader of the log's audit chain (verify, head, export) on its database.

        Raises:
            ServiceUnavailableError: the event store keeps no audit chain.
        """
        make = getattr(self.trading.recorder, "chain_reader", None)
        if make is None:
            raise ServiceUnavailableError("this event store keeps no audit chain")
        reader: ChainReader = make()
        reader.snapshots = SnapshotAudit.of(self.trading)  # what `verify` checks them with
        return reader

    def close(self) -> None:
        """Close connection pools."""
        self.trading.close()
        if isinstance(self.queries, PostgresReadModelQueries):
            self.queries.close()


def bootstrap(
    settings: Settings,
    *,
    event_store: Mapping[str, str] | None = None,
    start_embedded: bool = True,
    with_queries: bool = False,
) -> System:
    """Wire the system; `event_store` overrides the eventsourcing persistence settings.

    `with_queries` opens the read-model query pool (for the HTTP API).
    """
    queries: ReadModelQueries | None = None
    if event_store is None:
        conninfo = database_conninfo(settings, start_embedded=start_embedded)
        db = settings.database
        with schema_setup_lock(conninfo, db.schema_name, connect_timeout_s=db.connect_timeout_s):
            ensure_schema(conninfo, db.schema_name, connect_timeout_s=db.connect_timeout_s)
            trading = _trading(settings, _event_store_env(conninfo, settings))
        if with_queries:
            queries = PostgresReadModelQueries(
                conninfo, db.schema_name, cursor_key=cursor_key(settings)
            )
        return System(settings=settings, trading=trading, queries=queries)
    return System(settings=settings, trading=_trading(settings, event_store), queries=queries)


def _event_store_env(conninfo: str, settings: Settings) -> Mapping[str, str]:
    db = settings.database
    return eventsourcing_env(
        conninfo,
        schema=db.schema_name,
        pool_size=db.pool_size,
        max_overflow=db.max_overflow,
        connect_timeout_s=db.connect_timeout_s,
    )


def _trading(settings: Settings, event_store: Mapping[str, str]) -> Trading:
    return Trading(
        event_store,
        account=settings.trading.account,
        markets=frozenset(settings.trading.markets),
        fee_rate=settings.trading.fee_rate,
    )


def migrator(settings: Settings, *, start_embedded: bool = True) -> Migrator:
    """Return the migrator of the configured database and schema."""
    conninfo = database_conninfo(settings, start_embedded=start_embedded)
    return Migrator(
        conninfo,
        settings.database.schema_name,
        connect_timeout_s=int(settings.database.connect_timeout_s),
    )


def read_model_store(settings: Settings, *, start_embedded: bool = True) -> ReadModelStore:
    """Return the read-model store of the configured database and schema."""
    conninfo = database_conninfo(settings, start_embedded=start_embedded)
    return ReadModelStore(conninfo, settings.database.schema_name)


def log_stream(settings: Settings) -> LogStream:
    """Return the JetStream stream of the configured environment."""
    from adapters.nats.stream import LogStream

    return LogStream(settings.env)


def projection_writer(system: System, name: str) -> ProjectionWriter:
    """Return the writer of the read model `name` (its own database connection).

    Raises:
        KeyError: no read model has that name.
    """
    trading = system.trading
    return ProjectionWriter(
        read_model_store(system.settings, start_embedded=False),
        projection_named(name),
        LogReader(trading.recorder),
        trading.mapper.to_domain_event,
    )


def cqrs_pipeline(
    system: System,
    *,
    relay: bool = True,
    projections: Sequence[str] = tuple(PROJECTIONS),
    start_embedded: bool = True,
) -> CqrsPipeline:
    """Wire the relay (woken by the log's NOTIFY) and the named projectors."""
    from adapters.nats.pipeline import CqrsPipeline
    from adapters.nats.projector import NatsProjector
    from adapters.nats.relay import LogRelay

    settings = system.settings
    url = nats_url(settings, start_embedded=start_embedded)
    stream = log_stream(settings)
    recorder: Any = system.trading.recorder  # the PostgreSQL process recorder (LISTEN channel)
    log_relay = None
    if relay:
        conninfo = database_conninfo(settings, start_embedded=False)
        listener = LogListener(conninfo, recorder.channel_name)
        log_relay = LogRelay(recorder, stream, url, listener=listener)
    linger_s = settings.nats.projector_linger_ms / 1000
    projectors = [
        NatsProjector(projection_writer(system, name), stream, url, linger_s=linger_s)
        for name in projections
    ]
    return CqrsPipeline(log_relay, projectors)


# The trading system (issue 7): a run's loop, its execution and its market feed.


@dataclass
class TradingParts:
    """What runs a trading run: its service, the market feed beside it, and what to close."""

    service: TradingService
    market_feed: Callable[[asyncio.Event], Awaitable[object]] | None
    """The live ingest (paper and live runs); None where the service steps the feed."""
    closers: list[Callable[[], None]]

    def close(self) -> None:
        """Close every client and connection the parts opened."""
        for close in reversed(self.closers):
            close()


def trading_parts(
    system: System,
    opened: StrategyRun.Opened,
    *,
    exchange_url: str | None,
    credentials: UpbitCredentials | None,
    report: Callable[[TradingStatus], None],
    on_record: Callable[[list[Candle]], None] | None = None,
    on_notice: Callable[[str], None] | None = None,
    fence: Callable[[], None] | None = None,
) -> TradingParts:
    """Wire a run's loop (on a ledger of its own), its execution and its market feed.

    `paper` runs fill with the paper model on the market data of `exchange_url` (Upbit by
    default); `sandbox` runs trade on a paced sandbox at `exchange_url`, whose clock the
    service steps one minute per processed candle; `upbit` runs trade on Upbit itself.
    `fence` is checked before every order and cancel is sent (the run's lease: `run_lease`).
    """
    from adapters.sandbox_exchange.control import SandboxControl
    from adapters.trading.fenced_gateway import FencedGateway
    from adapters.trading.sandbox_feed import SteppedSandboxFeed
    from adapters.trading.service import TradingService
    from adapters.upbit.candle_source import UpbitCandleSource
    from adapters.upbit.execution import UpbitExecutionGateway
    from adapters.upbit.live_ingest import LiveCandleIngest
    from adapters.upbit.rest import UpbitRestClient
    from adapters.upbit.websocket import websocket_url
    from api.curable_errors import is_curable
    from commands.processes.trading_loop import TradingLoop
    from commands.run_engine.exchange_execution import ExchangeExecution
    from commands.run_engine.paper_execution import PaperExecution

    settings = system.settings
    conninfo = database_conninfo(settings, start_embedded=False)
    log = Trading(
        _event_store_env(conninfo, settings),
        account=settings.trading.account,
        markets=frozenset(settings.trading.markets),
        fee_rate=settings.trading.fee_rate,
    )
    url = exchange_url or settings.upbit.rest_url
    rest = UpbitRestClient(url, credentials=credentials)
    closers: list[Callable[[], None]] = [log.close, rest.close]
    source = UpbitCandleSource(rest)
    name = f"upbit-rest:{url}"

    def cause() -> Cause:
        at = datetime.now(tz=UTC)
        return Cause(at, f"ingest:{opened.market}", f"ingest:{opened.market}", "trading-run")

    def execution(run: StrategyRun.Opened, model: FillModel, feed: LogCandleFeed) -> Execution:
        if run.exchange == "paper":
            return PaperExecution(model)
        gateway = UpbitExecutionGateway(rest, name=run.exchange, fee_rate=model.fee_rate)
        return ExchangeExecution(
            gateway if fence is None else FencedGateway(gateway, fence),
            log,
            run.market,
            horizon=lambda: feed.newest_close,
        )

    listener = LogListener(conninfo, log.recorder.channel_name, poll_s=0.5)  # type: ignore[attr-defined]
    after_step = None
    market_feed = None
    if opened.exchange == "sandbox":
        control = SandboxControl(url)
        closers.append(control.close)
        stepper = SteppedSandboxFeed(
            log,
            control,
            source,
            opened.market,
            cause=cause,
            source_name=name,
            on_record=on_record,
            websocket_url=websocket_url(url, settings.upbit.rest_url, settings.upbit.websocket_url),
        )
        closers.append(stepper.close)
        after_step = stepper.advance
    else:
        ingest = LiveCandleIngest(
            system.trading,
            source,
            websocket_url(url, settings.upbit.rest_url, settings.upbit.websocket_url),
            opened.market,
            cause=cause,
            source_name=name,
            now=lambda: datetime.now(tz=UTC),
            on_record=on_record,
            on_change=lambda feed: service.note_feed(
                feed.down_since,
                feed.next_try_at,
                f"{feed.down_reason} ({feed.last_error})" if feed.down_reason else "",
            ),
            on_notice=on_notice,
        )

        async def follow(stop: asyncio.Event) -> object:
            return await ingest.run(opened.first_candle_at, stop)

        market_feed = follow

    opened_listener = False

    async def wake() -> None:
        nonlocal opened_listener
        if not opened_listener:
            await listener.open()
            opened_listener = True
        await listener.wait()

    service = TradingService(
        opened.run_id,
        lambda: TradingLoop(log, opened.run_id, execution),
        wake,
        is_retryable=is_curable,
        after_step=after_step,
        report=report,
        reconcile=None if opened.exchange == "paper" else reconciliation(log, opened, rest),
    )
    return TradingParts(service, market_feed, closers)


def scratch_ledger(
    account: str, fee_rate: Decimal, markets: frozenset[str] = DEFAULT_MARKETS
) -> Trading:
    """Return an empty in-memory ledger (a backtest's, a replay's, a parity check's)."""
    from commands.run_engine.run_model import IN_MEMORY_ENV

    return Trading(IN_MEMORY_ENV, account=account, fee_rate=fee_rate, markets=markets)


def run_lease(settings: Settings, run_id: str) -> RunLease:
    """Return the lease of a trading run on the configured database (not yet taken)."""
    conninfo = database_conninfo(settings, start_embedded=False)
    return RunLease(conninfo, settings.database.schema_name, run_id)


def reconciliation(
    log: Trading, opened: StrategyRun.Opened, rest: UpbitRestClient
) -> Callable[[str], object]:
    """Return what reconciles a run on an exchange with the log, for a trigger, now."""
    from adapters.upbit.execution import UpbitExecutionGateway
    from commands.processes.reconciliation import Reconciler

    gateway = UpbitExecutionGateway(rest, name=opened.exchange, fee_rate=opened.fee_rate)
    reconciler = Reconciler(log, gateway)

    def reconcile(trigger: str) -> object:
        why = f"reconciliation:{opened.run_id}:{trigger}"
        cause = Cause(datetime.now(tz=UTC), "reconciliation", why, opened.run_id)
        return reconciler.reconcile(opened.run_id, trigger, cause)

    return reconcile
