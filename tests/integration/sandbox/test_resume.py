"""A sandbox run resumed on a new sandbox (`ledger run --exchange sandbox` run again).

The run core (its loop, the stepped sandbox feed, the real gateway, reconciliation) runs in
process against a paced sandbox served over HTTP, on a PostgreSQL log: an hour, then the
sandbox stops and a new one starts empty, as the sandbox `ledger run --candles` starts does.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import SecretStr

from adapters.market_data.candles_csv import read_tape
from adapters.sandbox_exchange.app import SANDBOX_KEYS, create_sandbox_app
from adapters.sandbox_exchange.clock import SandboxClock
from adapters.sandbox_exchange.control import SandboxControl
from adapters.sandbox_exchange.market_data import SandboxMarket
from adapters.sandbox_exchange.paper_exchange import PaperExchange
from adapters.sandbox_exchange.rate_limits import RateLimiter
from adapters.trading.sandbox_feed import SteppedSandboxFeed
from adapters.upbit.auth import UpbitCredentials
from adapters.upbit.candle_source import UpbitCandleSource
from adapters.upbit.execution import UpbitExecutionGateway
from adapters.upbit.rate_limit import GROUP_LIMITS
from adapters.upbit.rest import UpbitRestClient
from api.bootstrap import System, scratch_ledger
from api.cli.run_parts import restore_sandbox
from api.cli.trading_run import TradingRunInputError
from api.settings import load_settings
from commands.parity import run_parity
from commands.processes.reconciliation import Reconciler
from commands.processes.trading_loop import TradingLoop
from commands.trading import Trading
from domain.events import Cause
from domain.orders.status import OrderStatus
from domain.risk.trading_state import TradingState
from domain.strategies.run import StrategyRun
from tests.integration.sandbox.conftest import FIXTURE, served
from tests.unit.commands.processes.runs import CAPITAL, MODEL, NAMES, on_exchange, open_run

RUN = "sandbox-resume"
FIRST = datetime(2023, 3, 9, tzinfo=UTC)
ACCESS_KEY = "sandbox-access-key"


@contextmanager
def new_sandbox() -> Iterator[str]:
    """Serve a paced sandbox as `ledger run` starts one: held at the first candle, funded."""
    market = SandboxMarket("KRW-BTC", read_tape(FIXTURE))
    exchange = PaperExchange({"KRW-BTC": market}, krw=CAPITAL * len(NAMES), model=MODEL)
    clock = SandboxClock(FIRST, speed=1e6, paced=True)
    limiter = RateLimiter(dict.fromkeys(GROUP_LIMITS, 100_000))
    with served(create_sandbox_app({"KRW-BTC": market}, clock, limiter, exchange=exchange)) as url:
        yield url


@dataclass
class RunCore:
    """What `ledger run --exchange sandbox` drives: the loop, the stepped feed, reconciliation."""

    loop: TradingLoop
    feed: SteppedSandboxFeed
    reconciler: Reconciler
    control: SandboxControl

    def reconcile(self, n: int) -> Any:
        cause = Cause(FIRST + timedelta(seconds=n), "reconciliation", f"r-{n}", RUN)
        return self.reconciler.reconcile(RUN, "start", cause)

    def trade(self, minutes: int) -> None:
        for _ in range(minutes):
            self.loop.step()
            assert not self.feed.advance(self.loop)
        self.loop.step()


def run_core(log: Trading, url: str, stack: ExitStack) -> RunCore:
    keys = UpbitCredentials(ACCESS_KEY, SecretStr(SANDBOX_KEYS[ACCESS_KEY]))
    rest = stack.enter_context(UpbitRestClient(url, credentials=keys))
    gateway = UpbitExecutionGateway(rest, name="sandbox", fee_rate=MODEL.fee_rate)

    control = stack.enter_context(SandboxControl(url))
    feed = SteppedSandboxFeed(
        log,
        control,
        UpbitCandleSource(rest),
        "KRW-BTC",
        cause=lambda: Cause(FIRST, "ingest:KRW-BTC", "ingest", "trading-run"),
        source_name="sandbox",
    )
    reconciler = Reconciler(log, UpbitExecutionGateway(rest, name="sandbox"))
    return RunCore(TradingLoop(log, RUN, on_exchange(gateway, log)), feed, reconciler, control)


def open_sandbox_run(log: Trading) -> tuple[StrategyRun.Opened, int]:
    cause = Cause(FIRST, "cli:ledger-run", f"open-run:{RUN}", RUN)
    open_run(log, FIRST, run_id=RUN, exchange="sandbox", cause=cause)
    opened, position = log.get_run_opened(RUN), log.run_opened_position(RUN)
    assert opened is not None and position is not None
    return opened, position


def unexplained(reconciliation: Any) -> list[tuple[str, str]]:
    return [(d["kind"], d["order_id"]) for d in reconciliation.differences if not d["is_explained"]]


def test_a_run_resumed_on_a_new_sandbox_finds_its_orders_there_and_trades_on_in_parity(
    pg_schema,  # type: ignore[no-untyped-def]
) -> None:
    log = Trading(pg_schema.eventsourcing_env(), account="main")
    try:
        opened, position = open_sandbox_run(log)

        # Given a run that traded an hour on a sandbox, with orders resting there, and stopped
        with ExitStack() as stack:
            first = run_core(log, stack.enter_context(new_sandbox()), stack)
            assert unexplained(first.reconcile(1)) == []
            first.trade(60)
        working = [o for o in _orders(log) if o.status in (OrderStatus.OPEN, OrderStatus.PARTIAL)]
        assert working, "orders rest at the exchange when the run stops"
        assert any(o.status is OrderStatus.FILLED for o in _orders(log))

        # When `ledger run` is run again: a new sandbox, restored from the run's log as
        # `ledger run` restores it
        with ExitStack() as stack:
            url = stack.enter_context(new_sandbox())
            system = System(load_settings(), log)
            said = restore_sandbox(system, opened, url, is_new=False)
            resumed = run_core(log, url, stack)

            # Then the sandbox holds the run's resting orders again
            assert re.search(r" [1-9]\d* orders placed", said), said
            # (and a sandbox that cannot take the log's requests, as one in use, is refused
            # before any reconciliation, saying what to do: exit 2 at the CLI)
            with pytest.raises(TradingRunInputError, match="restore_refused.*--run-id NEW"):
                restore_sandbox(system, opened, url, is_new=False)
            # And the start-up reconciliation finds the exchange as the log implies it
            assert unexplained(resumed.reconcile(2)) == []
            risk = log.get_risk_limits()
            assert risk is not None and risk.state is TradingState.ACTIVE
            assert resumed.control.status().now == FIRST + timedelta(minutes=60)

            # And the run trades on, and decides what a backtest of its candles decides
            resumed.trade(30)
            assert unexplained(resumed.reconcile(3)) == []
        outcome = run_parity(log, opened, position, scratch=scratch_ledger)
        assert outcome.candles == 90 and outcome.is_equal, outcome.first_difference()
    finally:
        log.close()


def _orders(log: Trading) -> list[Any]:
    from domain.orders.order import Order

    ids = {e.originator_id for _, e in log.read_events([Order.Placed.TOPIC])}
    return [log.repository.get(order_id) for order_id in ids]
