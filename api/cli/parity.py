"""`ledger parity`: compare what a trading run decided with a backtest of the candles it saw."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from api.cli.context import console, open_system


class ParityMismatchError(Exception):
    """A trading run decided otherwise than the backtest of its candles (exit code 4)."""


class ParityInputError(Exception):
    """A parity option is malformed, or it selects no trading run (exit code 2)."""


def parity(
    ctx: typer.Context,
    start: Annotated[
        str | None,
        typer.Option("--from", help="Start of the range (ISO UTC); default: the run's start."),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option("--to", help="End of the range (ISO UTC), exclusive; default: the newest."),
    ] = None,
    run: Annotated[
        list[str] | None, typer.Option("--run", help="This trading run only (repeatable).")
    ] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write each run's outcome as JSON.")
    ] = None,
) -> None:
    """Replay the candles a trading run saw through the backtest and compare the decisions.

    For each trading run in the log (`ledger run`), the log's candles of its market from its
    first candle to --to go through `ledger backtest`'s engine with the run's inputs
    (strategies, parameters, capital, paper fill model, run id). The signals, orders and
    fills decided in [--from, --to) are compared flow by flow, without the exchange's own
    ids (docs/trading.md "Parity"); each side's hash is printed. The backtest starts from the
    account the run opened on (its strategies' cash and positions). A run that saw no candle
    has nothing to compare (equal). Exit 4 on a difference, naming the first differing
    decision.

    Example: ledger parity --from 2023-03-09 --to 2023-03-12
    """
    from api.bootstrap import scratch_ledger
    from commands.parity import run_parity, trading_runs

    lo, hi = _time(start, "--from"), _time(end, "--to")
    if lo is not None and hi is not None and hi <= lo:
        raise ParityInputError(f"--to {end} must be after --from {start}")
    outcomes = []
    with open_system(ctx, read_only=True) as system:
        runs = [(p, o) for p, o in trading_runs(system.trading) if not run or o.run_id in run]
        if not runs:
            wanted = f" named {', '.join(run)}" if run else ""
            raise ParityInputError(f"the log holds no trading run{wanted} (see `ledger run`)")
        for position, opened in runs:
            with console.status(f"backtesting the candles run {opened.run_id} saw…"):
                outcomes.append(
                    run_parity(
                        system.trading, opened, position, start=lo, end=hi, scratch=scratch_ledger
                    )
                )
    table = Table(title="parity: the trading run against a backtest of its candles")
    for column in ("run", "range (UTC)", "candles", "decisions", "run hash", "backtest hash", ""):
        table.add_column(column)
    for o in outcomes:
        table.add_row(
            o.run_id,
            f"{o.start:%Y-%m-%d %H:%M} - {o.end:%Y-%m-%d %H:%M}",
            f"{o.candles:,}",
            f"{len(o.system_lines):,} / {len(o.backtest_lines):,}",
            o.system_hash[:16],
            o.backtest_hash[:16],
            ("nothing to compare" if o.note else "equal") if o.is_equal else "DIFFERENT",
        )
    console.print(table)
    if json_out is not None:
        json_out.write_text(json.dumps([o.as_dict() for o in outcomes], indent=1))
    for o in outcomes:
        if o.note:
            console.print(f"{o.run_id}: {o.note}")
    different = [o for o in outcomes if not o.is_equal]
    for o in different:
        for problem in o.problems:
            console.print(f"{o.run_id}: {problem}")
        if (difference := o.first_difference()) is not None:
            console.print(f"{o.run_id}: {difference}")
    if different:
        raise ParityMismatchError(
            f"{len(different)} of {len(outcomes)} trading runs differ from their backtest"
        )


def _time(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ParityInputError(f"{option} {text!r} is not an ISO 8601 time or date") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
