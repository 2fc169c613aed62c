"""`ledger replay` on a real PostgreSQL: runs replay from their recorded inputs, and differ
where the log or the code changed, naming the first differing event."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

import commands.replay as replay_module
from adapters.market_data.candles_csv import read_rows, read_tape
from api.bootstrap import scratch_ledger
from commands.backtest.run_record import complete_run, start_run
from commands.candle_import import hour_commands
from commands.log_copy import copy_events
from commands.replay import recorded_runs, replay_run
from commands.run_engine.engine import RunEngine
from commands.run_engine.run_model import IN_MEMORY_ENV, EngineConfig
from commands.trading import Trading
from domain.candles.candle_hour import CandleRow
from domain.events import Cause
from domain.fills.paper_fill_model import FillModel
from domain.money import positive_krw
from domain.risk.limits import Limits
from domain.strategies.catalog import build_strategies

FIXTURE = (
    Path(__file__).parents[2] / "fixtures/candles/upbit-KRW-BTC-1m-2023-03-09_2023-03-16.csv.gz"
)
IMPORTED = Cause(datetime(2026, 1, 1, tzinfo=UTC), "test", "import", "import")
ALL = ["volatility_breakout", "grid", "turtle"]


@pytest.fixture
def trading(pg_schema) -> Iterator[Trading]:  # type: ignore[no-untyped-def]
    app = Trading(pg_schema.eventsourcing_env())
    yield app
    app.close()


def import_fixture(trading: Trading) -> None:
    rows = read_rows(FIXTURE)
    commands = hour_commands(
        "KRW-BTC", rows.minutes.tolist(), rows.values, source="csv:fixture", cause=IMPORTED
    )
    trading.ingest_candles(commands, assume_new=True)


def persist_run(
    trading: Trading,
    run_id: str,
    overrides: dict[str, dict[str, str]] | None = None,
    limits: Limits = Limits(),  # noqa: B008 - frozen, immutable
) -> str:
    """Run a backtest of the fixture in memory, as `ledger backtest --persist` does, and copy
    its events into the log; return the replay hash it printed."""
    tape = read_tape(FIXTURE)
    strategies = build_strategies(ALL, overrides or {})
    capital = positive_krw("10000000", "capital")
    config = EngineConfig(run_id, capital, FillModel(), limits=limits)
    memory = Trading(IN_MEMORY_ENV, account=run_id)
    memory.start_run(start_run(config, strategies, tape, "backtest"))
    engine = RunEngine(memory, strategies, config).run_tape(tape)
    memory.complete_run(complete_run(engine))
    copy_events(trading, memory)
    memory.close()
    return engine.replay_hash()


def rewrite_event(pg_schema, position: int, old: str, new: str) -> None:  # type: ignore[no-untyped-def]
    with psycopg.connect(pg_schema.conninfo) as conn:
        table = sql.Identifier(pg_schema.schema, "ledger_events")
        statement = sql.SQL(
            "UPDATE {} SET state = convert_to(replace(convert_from(state, 'UTF8'), %s, %s), "
            "'UTF8') WHERE notification_id = %s"
        ).format(table)
        assert conn.execute(statement, (old, new, position)).rowcount == 1


def test_a_persisted_run_replays_to_the_decisions_and_hash_it_recorded(trading: Trading) -> None:
    # Given the fixture's candles in the log and a backtest of them persisted
    import_fixture(trading)
    printed = persist_run(trading, "bt-replay-1")
    # When the log's runs are replayed
    [run] = recorded_runs(trading)
    outcome = replay_run(trading, run, scratch=scratch_ledger)
    # Then the replay decided exactly what the log records, with the hash the backtest printed
    assert outcome.is_identical, (outcome.problems, outcome.difference)
    assert outcome.recorded_decisions == outcome.replayed_decisions > 50
    assert outcome.replay_hash == outcome.recorded_hash == printed
    assert run.completed is not None and run.completed.replay_hash == printed
    assert run.started.strategies["grid"]["levels"] == "10"  # every parameter, defaults too


def test_a_decision_changed_in_the_log_is_named_with_its_position_and_fields(
    trading: Trading,
    pg_schema,  # type: ignore[no-untyped-def]
) -> None:
    # Given a persisted run whose first fill's price was then changed in the database
    import_fixture(trading)
    persist_run(trading, "bt-replay-2")
    [run] = recorded_runs(trading)
    first_fill = next(
        d for d in replay_module.recorded_decisions(trading, run) if d.topic == "order.filled"
    )
    assert first_fill.position is not None
    price = first_fill.body["price_krw"]
    rewrite_event(pg_schema, first_fill.position, f'"{price}"', f'"{int(price) + 1000}"')
    # When it is replayed
    outcome = replay_run(trading, run, scratch=scratch_ledger)
    # Then the replay names that event, its position and the field, and the log's hash
    # no longer matches the one the run recorded when it completed
    assert not outcome.is_identical
    difference = outcome.difference
    assert difference is not None and difference.recorded is not None
    assert difference.recorded.position == first_fill.position
    assert difference.fields == (("price_krw", str(int(price) + 1000), price),)
    assert f"at log position {first_fill.position}" in difference.describe()
    assert any("the log was changed after the run" in p for p in outcome.problems)


def test_changed_strategy_code_is_named_at_its_first_differing_decision(
    trading: Trading, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a persisted run
    import_fixture(trading)
    persist_run(trading, "bt-replay-3")
    [run] = recorded_runs(trading)
    recorded = replay_module.recorded_decisions(trading, run)

    # When the code that builds the strategies has changed (the breakout's k is read wrongly)
    def changed_code(names, params):  # type: ignore[no-untyped-def]
        params = {**params, "volatility_breakout": {**params["volatility_breakout"], "k": "0.6"}}
        return build_strategies(names, params)

    monkeypatch.setattr(replay_module, "build_strategies", changed_code)
    outcome = replay_run(trading, run, scratch=scratch_ledger)
    # Then the replay differs at the breakout's first signal that moved: the recorded one is
    # named by its log position, and the fields show it came at another candle
    difference = outcome.difference
    assert difference is not None and not outcome.is_identical
    assert outcome.replay_hash != outcome.recorded_hash
    was = difference.recorded
    assert was is not None and was.position == recorded[difference.index].position
    assert was.topic == "strategy.signal.created"
    assert was.body["strategy_id"] == "volatility_breakout"
    assert "candle_open_time" in {name for name, _, _ in difference.fields}
    # and every decision before it, made by the other strategies or by the breakout before
    # its k mattered, was the same (first_difference compares them in order)
    assert difference.index > 0
    # and nothing is wrong with the log or the inputs
    assert outcome.problems == [] and outcome.candles_match


def test_candles_corrected_after_a_run_do_not_change_its_replay(trading: Trading) -> None:
    # Given a persisted run, and later a correction of one of its candles in the log
    import_fixture(trading)
    printed = persist_run(trading, "bt-replay-4")
    rows = read_rows(FIXTURE)
    minute = int(rows.minutes[100])
    hour_start = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(minutes=minute // 60 * 60)
    fields = rows.values(100).split(",")
    fields[1] = str(int(float(fields[1])) + 5_000_000)  # a much higher high
    row = CandleRow(minute % 60, f"{minute % 60},{','.join(fields[:5])},0,0")
    from commands.messages import IngestCandles

    report = trading.ingest_candles(
        [IngestCandles("KRW-BTC", hour_start, (row,), "test", IMPORTED, True)]
    )
    assert report.corrected == 1
    # When the run is replayed
    [run] = recorded_runs(trading)
    outcome = replay_run(trading, run, scratch=scratch_ledger)
    # Then it replays from the candles as they were when it started: identical
    assert outcome.is_identical and outcome.replay_hash == printed


def test_a_run_whose_candles_are_missing_from_the_log_is_reported_not_replayed(
    trading: Trading,
) -> None:
    # Given a run persisted without its candles (copied alone, as an older version did)
    persist_run(trading, "bt-replay-5")
    # When it is replayed
    [run] = recorded_runs(trading)
    outcome = replay_run(trading, run, scratch=scratch_ledger)
    # Then the outcome says the candles are missing, and nothing was compared
    assert not outcome.is_identical and not outcome.candles_match
    assert "the log holds no KRW-BTC candles of run bt-replay-5" in outcome.problems[0]
    assert outcome.replayed_decisions == 0


def test_runs_are_selected_by_id_by_log_position_and_by_candle_time(trading: Trading) -> None:
    # Given two runs of different parameters
    import_fixture(trading)
    persist_run(trading, "bt-a")
    persist_run(trading, "bt-b", {"grid": {"levels": "12"}})
    first, second = recorded_runs(trading)
    assert (first.run_id, second.run_id) == ("bt-a", "bt-b")
    # Then each filter selects what it says
    assert [r.run_id for r in recorded_runs(trading, run_ids=["bt-b"])] == ["bt-b"]
    assert [r.run_id for r in recorded_runs(trading, positions=(second.position, None))] == ["bt-b"]
    assert [r.run_id for r in recorded_runs(trading, positions=(None, second.position))] == ["bt-a"]
    inside = datetime(2023, 3, 12, tzinfo=UTC)
    assert len(recorded_runs(trading, times=(inside, None))) == 2
    after = datetime(2023, 3, 17, tzinfo=UTC)
    assert recorded_runs(trading, times=(after, None)) == []
    assert recorded_runs(trading, times=(None, datetime(2023, 3, 9, tzinfo=UTC))) == []
    # And the second run replays identically too, with its own parameters
    outcome = replay_run(trading, second, scratch=scratch_ledger)
    assert outcome.is_identical and second.started.strategies["grid"]["levels"] == "12"


def test_a_persisted_run_with_risk_limits_replays_with_its_recorded_limits(
    trading: Trading,
) -> None:
    # Given the fixture's candles and two persisted runs of the same strategies: one without
    # limits, one whose 2 % drawdown limit reduces, liquidates and halts during the run
    import_fixture(trading)
    persist_run(trading, "bt-free")
    limits = Limits(max_drawdown=Decimal("0.02"), max_order_krw=Decimal(20_000_000))
    printed = persist_run(trading, "bt-limited", limits=limits)
    free, limited = recorded_runs(trading)
    assert limited.started.limits == limits and free.started.limits == Limits()
    # When the runs are replayed
    outcomes = [replay_run(trading, run, scratch=scratch_ledger) for run in (free, limited)]
    # Then both are identical, the limited one with the hash its backtest printed
    assert all(o.is_identical for o in outcomes), [(o.problems, o.difference) for o in outcomes]
    assert outcomes[1].replay_hash == printed != outcomes[0].replay_hash
    # And its recorded decisions include the monitor's: the breach, the state changes, the
    # liquidation asks it placed, and the orders that risk denied
    topics = [d.topic for d in replay_module.recorded_decisions(trading, limited)]
    assert {"risk.limit.breached", "risk.trading.reduced", "risk.trading.halted"} <= set(topics)
    assert "order.rejected" in topics
    monitor_orders = [
        d
        for d in replay_module.recorded_decisions(trading, limited)
        if d.topic == "order.placed" and d.body["actor"] == "risk-monitor"
    ]
    assert monitor_orders
    # And the other run's decisions include none of the limited run's
    free_topics = {d.topic for d in replay_module.recorded_decisions(trading, free)}
    assert not {"risk.limit.breached", "order.rejected"} & free_topics
