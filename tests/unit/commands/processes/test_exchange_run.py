"""A trading run on an exchange (the in-memory fake behind the port): parity and faults."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest

from commands.errors import ExchangeUnavailableError
from commands.messages import RecordFill
from commands.ports import ExchangeOrder, OrderTicket
from commands.processes.trading_loop import TradingLoop
from commands.trading import Trading
from domain.candles.candle import Candle
from domain.orders.order import Order
from tests.builders import POPO_ENV
from tests.fakes.exchange import FakeExchange
from tests.unit.commands.processes.runs import (
    MODEL,
    RUN_ID,
    exchange_loop,
    loop,
    new_log,
    on_exchange,
    open_run,
    parity,
    real_candles,
    record_candles,
)
from tests.unit.commands.processes.runs import parity as parity_of

DAYS = 4


@pytest.fixture(scope="module")
def candles() -> list[Candle]:
    """Four days of real KRW-BTC minutes, gaps filled as ingest fills them."""
    return real_candles(DAYS)


@pytest.fixture(scope="module")
def expected(candles: list[Candle]) -> list[str]:
    """The parity lines of a backtest over the same candles with the run's inputs."""
    from commands.run_engine.engine import RunEngine
    from commands.run_engine.run_model import EngineConfig
    from commands.trading import Trading
    from domain.strategies.catalog import build_strategies
    from tests.builders import POPO_ENV
    from tests.unit.commands.processes.runs import CAPITAL, NAMES, PARAMS

    trading = Trading(POPO_ENV, account=RUN_ID)
    engine = RunEngine(
        trading, build_strategies(NAMES, PARAMS), EngineConfig(RUN_ID, CAPITAL, MODEL)
    )
    engine.run(candles)
    return parity_of(trading)


def opened_on_exchange(
    candles: list[Candle], trading: Trading | None = None
) -> tuple[Trading, FakeExchange]:
    """Return a log (a new one, unless given) with the test run opened at the first candle, and
    an exchange at that candle. The run's mode is irrelevant to the loop: the execution
    decides."""
    if trading is None:
        trading = new_log()
    exchange = FakeExchange(MODEL, candles[0].open_time)
    open_run(trading, candles[0].open_time)
    return trading, exchange


def drive(
    trading: Trading,
    exchange: FakeExchange,
    run: TradingLoop,
    candles: list[Candle],
    before: Callable[[int], None] | None = None,
) -> int:
    """Close each candle on the exchange, record it in the log, let the loop process it.

    A loop that fails (the exchange down) is given up and a new one takes over, as the
    trading service does (crash-only). Return how many times that happened.
    """
    restarts = 0
    for index, candle in enumerate(candles):
        if before is not None:
            before(index)
        exchange.close(candle)
        record_candles(trading, [candle])
        try:
            run.step()
        except ExchangeUnavailableError:
            restarts += 1
            run, _ = exchange_loop(trading, exchange)
            run.step()
    return restarts


def test_run_on_an_exchange_decides_what_a_backtest_decides(
    candles: list[Candle], expected: list[str]
) -> None:
    # Given a run on an exchange that fills by the paper model
    trading, exchange = opened_on_exchange(candles)
    run, _ = exchange_loop(trading, exchange)

    # When the exchange closes each candle and the loop processes it
    drive(trading, exchange, run, candles)

    # Then the run's decisions, flow by flow, are the backtest's; one exchange order each
    assert len(expected) > 50
    assert parity(trading) == expected
    placed = [e for e in _events(trading) if isinstance(e, Order.Placed)]
    assert exchange.posts == len(placed) == len(exchange.orders)


def test_an_order_the_process_just_placed_is_sent_without_a_look_up_first(
    candles: list[Candle],
) -> None:
    # Given a run on an exchange, never interrupted
    trading, exchange = opened_on_exchange(candles)
    run, _ = exchange_loop(trading, exchange)

    # When it trades the candles
    drive(trading, exchange, run, candles)

    # Then each order's first call at the exchange is its submission: the log had no trace of
    # it before this process placed it, so nobody can have sent it
    first_call: dict[object, str] = {}
    for kind, order in exchange.calls:
        first_call.setdefault(order, kind)
    assert len(first_call) == len(exchange.orders) > 10
    assert set(first_call.values()) == {"submit"}


class KilledBeforeSending:
    """The exchange as seen by a process killed just before its n-th submission."""

    def __init__(self, exchange: FakeExchange, kill_at: int) -> None:
        self.exchange, self.kill_at, self.submissions = exchange, kill_at, 0
        self.name = exchange.name
        self.killed_on: UUID | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.exchange, name)

    def submit(self, ticket: OrderTicket) -> ExchangeOrder:
        self.submissions += 1
        if self.submissions == self.kill_at:
            self.killed_on = ticket.order_id
            raise SystemExit("killed between placing the order in the log and sending it")
        return self.exchange.submit(ticket)


def test_an_order_placed_by_a_killed_process_is_looked_up_before_it_is_sent(
    candles: list[Candle], expected: list[str]
) -> None:
    # Given a run killed after placing its third order in the log, before sending it
    trading, exchange = opened_on_exchange(candles)
    killing = KilledBeforeSending(exchange, kill_at=3)

    run = loop(trading, on_exchange(killing, trading))
    killed_at = -1
    for index, candle in enumerate(candles):
        exchange.close(candle)
        record_candles(trading, [candle])
        try:
            run.step()
        except SystemExit:
            killed_at = index
            break
    unsent = killing.killed_on
    assert unsent is not None and unsent not in exchange.orders

    # When a new loop takes over and trades the rest
    run, _ = exchange_loop(trading, exchange)
    run.step()
    drive(trading, exchange, run, candles[killed_at + 1 :])

    # Then that order was looked up before it was sent, sent once, and the run decided what
    # a backtest decides
    calls = [kind for kind, order in exchange.calls if order == unsent]
    assert calls[0] == "find" and calls.count("submit") == 1, calls
    assert parity(trading) == expected


def run_with_fault(candles: list[Candle], fault: str) -> tuple[Trading, FakeExchange, int]:
    """Run the test run through an exchange that fails once, a third of the way in."""
    trading, exchange = opened_on_exchange(candles)
    run, _ = exchange_loop(trading, exchange)
    armed_at = len(candles) // 3

    def arm(index: int) -> None:
        if index == armed_at:
            exchange.arm(fault)

    restarts = drive(trading, exchange, run, candles, before=arm)
    assert exchange.fault_count == 0  # the fault did happen
    assert restarts == (1 if fault == "down_on_sync" else 0)
    return trading, exchange, armed_at


def test_an_answer_lost_after_the_order_was_created_is_found_and_nothing_is_sent_twice(
    candles: list[Candle], expected: list[str]
) -> None:
    # Given a run whose exchange creates one order but its answer is lost (a 504)
    trading, exchange, _ = run_with_fault(candles, "lost_after_create")

    # Then the failed sending is an event, the order was found at the next close, never
    # sent again, and the decisions are the backtest's
    events = _events(trading)
    failed = [e for e in events if isinstance(e, Order.SubmissionFailed)]
    placed = [e for e in events if isinstance(e, Order.Placed)]
    assert len(failed) == 1 and "504" in failed[0].reason
    assert exchange.posts == len(placed) == len(exchange.orders)
    assert parity(trading) == expected


def test_an_exchange_down_at_a_close_stops_the_loop_and_a_new_one_decides_the_same(
    candles: list[Candle], expected: list[str]
) -> None:
    # Given a run whose exchange is down when asked about the orders at one close
    trading, exchange, _ = run_with_fault(candles, "down_on_sync")

    # Then a new loop took over and decided exactly what a backtest decides, each order once
    placed = [e for e in _events(trading) if isinstance(e, Order.Placed)]
    assert exchange.posts == len(placed) == len(exchange.orders)
    assert parity(trading) == expected


@pytest.mark.parametrize("fault", ["fail_before_create", "down"])
def test_an_order_not_created_by_a_failing_exchange_is_sent_once_at_the_next_close(
    candles: list[Candle], fault: str
) -> None:
    # Given a run whose exchange fails one submission before creating the order
    trading, exchange, armed_at = run_with_fault(candles, fault)

    # Then the failed sending is an event, and the order was sent once more and accepted,
    # one candle later than a backtest would have it; no order is left NEW
    events = _events(trading)
    (failed,) = [e for e in events if isinstance(e, Order.SubmissionFailed)]
    accepted = [
        e
        for e in events
        if isinstance(e, Order.Accepted) and e.originator_id == failed.originator_id
    ]
    assert len(accepted) == 1
    assert accepted[0].occurred_at == failed.occurred_at + timedelta(minutes=1)
    placed = [e for e in events if isinstance(e, Order.Placed)]
    assert len(exchange.orders) == len(placed)
    accepted_or_rejected = {
        e.originator_id for e in events if isinstance(e, Order.Accepted | Order.Rejected)
    }
    assert {e.originator_id for e in placed} == accepted_or_rejected


def test_an_order_the_exchange_refuses_is_rejected_with_upbits_code_and_never_sent_again(
    candles: list[Candle],
) -> None:
    # Given a run whose exchange refuses one order for good (Upbit's insufficient_funds_*)
    trading, exchange, _ = run_with_fault(candles, "refuse")

    # Then that order is rejected by the exchange with Upbit's error code, once; it was sent
    # once and never again (also not by the loops re-processing it), and nothing failed
    events = _events(trading)
    (rejected,) = [
        e for e in events if isinstance(e, Order.Rejected) and e.rejected_by == "exchange"
    ]
    assert rejected.reason.startswith("insufficient_funds_")
    assert "the account cannot fund the order" in rejected.reason
    assert rejected.originator_id not in exchange.orders
    assert trading.get_order(rejected.originator_id).status.name == "FAILED"
    placed = [e for e in events if isinstance(e, Order.Placed)]
    assert exchange.posts == len(placed) == len(exchange.orders) + 1
    assert not [e for e in events if isinstance(e, Order.SubmissionFailed)]
    accepted = {e.originator_id for e in events if isinstance(e, Order.Accepted)}
    assert accepted == {e.originator_id for e in placed} - {rejected.originator_id}

    # And a new loop re-processing the whole run from the log sends nothing
    run, _ = exchange_loop(trading, exchange)
    run.step()
    assert exchange.posts == len(placed)


def _events(trading: Trading) -> list[object]:
    notes = trading.recorder.select_notifications(start=None, limit=10**9)
    return [trading.mapper.to_domain_event(n) for n in notes]


class LogKilledOnAFill(Trading):
    """The log of a process killed once: after the run's copy took a fill, before the log did."""

    def __init__(self, *args: Any, kill_at: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kill_at, self.fills = kill_at, 0

    def record_fill(self, command: RecordFill) -> bool:
        self.fills += 1
        if self.fills == self.kill_at:
            raise SystemExit("killed between the run's own copy and the log")
        return super().record_fill(command)


@pytest.mark.parametrize("kill_at", [1, 4])
def test_run_killed_between_its_copy_and_the_log_takes_the_fill_from_the_exchange(
    candles: list[Candle], expected: list[str], kill_at: int
) -> None:
    # Given a run killed after its own copy took a fill and before the log recorded it
    killed_log = LogKilledOnAFill(POPO_ENV, account="main", kill_at=kill_at)
    trading, exchange = opened_on_exchange(candles, killed_log)
    run, _ = exchange_loop(trading, exchange)
    killed = False
    for candle in candles:
        exchange.close(candle)
        record_candles(trading, [candle])
        try:
            run.step()
        except SystemExit:
            # When a new process takes over (the exchange holds the fill the log lacks)
            killed = True
            run, _ = exchange_loop(trading, exchange)
            run.step()

    # Then the log holds the fill once and every decision of the backtest
    assert killed
    assert parity(trading) == expected
    placed = [e for e in _events(trading) if isinstance(e, Order.Placed)]
    assert exchange.posts == len(placed) == len(exchange.orders)


def test_a_cancel_of_an_order_the_exchange_does_not_have_ends_it_in_the_log_without_a_crash(
    candles: list[Candle],
) -> None:
    # Given a run that traded a day on an exchange and has orders open there
    from commands.messages import ChangeTradingState
    from domain.events import Cause

    trading, exchange = opened_on_exchange(candles)
    run, _ = exchange_loop(trading, exchange)
    day = 1440
    drive(trading, exchange, run, candles[:day])
    working = {o for o, order in exchange.orders.items() if order.state.value == "wait"}
    assert working

    # When the exchange forgets them (a new sandbox, a reset account), an operator halts, and
    # a new loop processes the next candle
    forgetful = FakeExchange(MODEL, candles[day - 1].close_time)
    at = candles[day - 1].close_time + timedelta(seconds=7)
    trading.change_trading_state(
        ChangeTradingState("HALTED", "maintenance", Cause(at, "api:alice", "halt", "halt"))
    )
    run, _ = exchange_loop(trading, forgetful)
    drive(trading, forgetful, run, candles[day : day + 1])

    # Then the halt's cancels end those orders in the log: the exchange had nothing to cancel
    cancelled = {e.originator_id for e in _events(trading) if isinstance(e, Order.Cancelled)}
    assert working <= cancelled
