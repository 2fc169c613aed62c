"""`ledger parity` (commands/parity.py): a run that saw no candle; one opened on books in use."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from api.bootstrap import scratch_ledger
from commands.messages import AllocateCapital, ChangeTradingState
from commands.parity import run_parity
from domain.candles.candle import Candle
from domain.events import Cause
from tests.unit.commands.processes.runs import (
    NAMES,
    RUN_ID,
    loop,
    new_log,
    open_run,
    real_candles,
    record_candles,
)

INHERITED = Decimal(300_000)


@pytest.fixture(scope="module")
def candles() -> list[Candle]:
    """Two days of real KRW-BTC minutes, gaps filled as ingest fills them."""
    return real_candles(2)


def test_a_run_that_saw_no_candle_has_nothing_to_compare_and_is_equal() -> None:
    # Given a paper run opened on a log that holds no candle yet
    trading = new_log()
    open_run(trading, datetime.fromisoformat("2023-03-09T00:00:00+00:00"))
    opened, position = trading.get_run_opened(RUN_ID), trading.run_opened_position(RUN_ID)
    assert opened is not None and position is not None

    # When parity compares it with a backtest
    outcome = run_parity(trading, opened, position, scratch=scratch_ledger)

    # Then both sides decided nothing: equal, nothing to compare, no difference to name
    assert outcome.is_equal and outcome.candles == 0
    assert outcome.system_hash == outcome.backtest_hash
    assert outcome.first_difference() is None and outcome.problems == []
    assert outcome.note is not None and "nothing to compare" in outcome.note


def test_a_run_opened_on_books_it_did_not_fund_is_compared_from_the_cash_it_had(
    candles: list[Candle],
) -> None:
    # Given an account whose strategies already hold 300,000 KRW each (an operator's
    # allocation, or what an earlier run left), and a run of 10,000,000 KRW a strategy opened
    # on it: each strategy keeps its book
    trading = new_log()
    record_candles(trading, candles)
    cause = Cause(candles[0].open_time, "operator:test", "allocate", "allocate")
    for name in NAMES:
        trading.allocate_capital(AllocateCapital(name, INHERITED, cause))
    open_run(trading, candles[0].open_time)
    portfolio = trading.get_portfolio()
    assert portfolio is not None and portfolio.book("volatility_breakout").cash_krw == INHERITED

    # When the run trades two days
    loop(trading).step()

    # Then parity backtests it from the books it had, and finds what it decided
    opened, position = trading.get_run_opened(RUN_ID), trading.run_opened_position(RUN_ID)
    assert opened is not None and position is not None
    outcome = run_parity(trading, opened, position, scratch=scratch_ledger)
    assert outcome.candles == len(candles)
    assert len(outcome.system_lines) >= 5
    assert outcome.is_equal, outcome.first_difference()


def test_a_run_opened_on_a_halted_account_is_compared_from_that_state(
    candles: list[Candle],
) -> None:
    # Given an account an operator halted before the run opened on it
    trading = new_log()
    record_candles(trading, candles)
    cause = Cause(candles[0].open_time, "operator:test", "allocate", "allocate")
    trading.allocate_capital(AllocateCapital("grid", INHERITED, cause))
    halt = Cause(candles[0].open_time, "api:alice", "halt", "halt")
    trading.change_trading_state(ChangeTradingState("HALTED", "maintenance", halt))
    open_run(trading, candles[0].open_time)

    # When the run processes two days (every strategy order denied)
    loop(trading).step()

    # Then the backtest starts halted too, and decides the same denials
    opened, position = trading.get_run_opened(RUN_ID), trading.run_opened_position(RUN_ID)
    assert opened is not None and position is not None
    outcome = run_parity(trading, opened, position, scratch=scratch_ledger)
    assert any("trading_halted" in line for line in outcome.system_lines)
    assert outcome.is_equal, outcome.first_difference()
