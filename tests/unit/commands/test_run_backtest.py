"""The backtest use case: its run's identity is a hash of its inputs, and it runs on the scratch
ledger it is handed."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from adapters.market_data.candles_csv import read_tape
from api.bootstrap import scratch_ledger
from commands.backtest.run_backtest import BacktestInputs, backtest_run_id, run_backtest
from commands.trading import Trading
from domain.candles.tape import CandleTape
from domain.fills.paper_fill_model import FillModel
from domain.risk.limits import Limits
from tests.unit.commands.backtest.runs import MARCH

DAY = datetime(2023, 3, 10, tzinfo=UTC)
INPUTS = BacktestInputs(
    strategies=["volatility_breakout", "grid", "turtle"],
    overrides={},
    capital_krw=Decimal(10_000_000),
    model=FillModel(),
    market="KRW-BTC",
    limits=Limits(),
)


def test_the_same_inputs_give_the_same_run_id_and_any_change_another() -> None:
    tape = read_tape(MARCH, end=DAY)
    same = backtest_run_id(tape, INPUTS)
    assert same == backtest_run_id(tape, INPUTS) and same.startswith("bt-") and len(same) == 15
    more = BacktestInputs(**{**vars(INPUTS), "capital_krw": Decimal(20_000_000)})
    limited = BacktestInputs(**{**vars(INPUTS), "limits": Limits(max_order_krw=Decimal(1_000_000))})
    assert len({same, backtest_run_id(tape, more), backtest_run_id(tape, limited)}) == 3


def test_a_backtest_runs_on_the_ledger_it_is_handed_and_records_its_run_when_asked() -> None:
    handed: list[Trading] = []

    def scratch(account: str, fee_rate: Decimal, markets: frozenset[str] = frozenset()) -> Trading:
        ledger = scratch_ledger(account, fee_rate, *([markets] if markets else []))
        handed.append(ledger)
        return ledger

    tape: CandleTape = read_tape(MARCH, end=DAY)
    done = run_backtest(tape, INPUTS, scratch, records_run=True)
    try:
        assert [ledger.account for ledger in handed] == [done.run_id]
        assert done.ledger is handed[0]
        run = done.ledger.get_run(done.run_id)
        assert run is not None and run.is_completed
        completed = [e for _, e in done.ledger.read_events(["strategy.run.completed"])]
        assert [e.replay_hash for e in completed] == [done.report["replay_hash"]]  # type: ignore[attr-defined]
    finally:
        done.ledger.close()
