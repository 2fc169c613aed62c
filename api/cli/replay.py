"""`ledger replay`: re-run the recorded inputs of the log's runs and compare the decisions."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from api.cli.context import console, err_console, open_system


class ReplayMismatchError(Exception):
    """A replay decided otherwise than the log records, or its inputs changed (exit code 4)."""


class ReplayInputError(Exception):
    """A replay option is malformed, or it selects no run (exit code 2)."""


def replay(
    ctx: typer.Context,
    start: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="A log position (e.g. 1200: runs started at or after it) or an ISO UTC time "
            "(e.g. 2023-03-01: runs whose candles reach it or later).",
        ),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option(
            "--to",
            help="A log position (runs started before it) or an ISO UTC time (runs whose "
            "candles begin before it), exclusive.",
        ),
    ] = None,
    run: Annotated[
        list[str] | None, typer.Option("--run", help="Replay this run id only (repeatable).")
    ] = None,
    verify: Annotated[
        bool,
        typer.Option(
            "--verify",
            help="Exit 4 when any run's replay differs from the log (the first differing "
            "event is named either way).",
        ),
    ] = False,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write every run's outcome as JSON.")
    ] = None,
) -> None:
    """Replay the log's runs through the current code and compare their decisions.

    Each run recorded in the log (`ledger backtest --persist`, and later the trading system)
    is re-run whole from its recorded inputs: the strategies with every parameter, the
    capital and fill model from its `strategy.run.started` event, and the candles the log
    held when it started. Its decisions (signals, orders, fills, cancels) are compared event
    by event with the ones the log records; the replay hash covers them byte for byte. A
    difference names the first differing event, its log position and the fields that differ.
    """
    from api.bootstrap import scratch_ledger
    from commands.replay import recorded_runs, replay_run

    from_position, from_time = _bound(start, "--from")
    to_position, to_time = _bound(end, "--to")
    with open_system(ctx) as system:
        runs = recorded_runs(
            system.trading,
            run_ids=run,
            positions=(from_position, to_position),
            times=(from_time, to_time),
        )
        if not runs:
            raise ReplayInputError(_nothing_found(start, end, run))
        outcomes = []
        with _progress(len(runs)) as advance:
            for recorded in runs:
                outcomes.append(
                    replay_run(
                        system.trading,
                        recorded,
                        advance(recorded.run_id),
                        scratch=scratch_ledger,
                    )
                )
    _print(outcomes)
    if json_out is not None:
        body = [o.as_dict() for o in outcomes]
        json_out.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
        console.print(f"JSON written to {json_out}")
    differing = [o for o in outcomes if not o.is_identical]
    if differing and verify:
        raise ReplayMismatchError(
            f"{len(differing)} of {len(outcomes)} runs replay differently from the log: "
            + ", ".join(o.run.run_id for o in differing)
        )


def _bound(text: str | None, option: str) -> tuple[int | None, datetime | None]:
    """Return (log position, None) or (None, UTC time) from an option's text."""
    if text is None:
        return None, None
    if text.strip().isdigit():
        return int(text), None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ReplayInputError(
            f"{option} {text!r} is neither a log position (a whole number, e.g. 1200) nor an "
            "ISO 8601 time (e.g. 2023-03-01 or 2023-03-01T09:00Z)"
        ) from None
    return None, value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _nothing_found(start: str | None, end: str | None, run_ids: list[str] | None) -> str:
    what = f"runs {', '.join(run_ids)}" if run_ids else "runs"
    if start is None and end is None:
        where = "in the event log"
    else:
        where = f"between --from {start or 'the beginning'} and --to {end or 'the end'}"
    return (
        f"no {what} recorded {where}; a run is recorded by `ledger backtest --persist` "
        "(see `ledger replay --help`)"
    )


@contextmanager
def _progress(total: int) -> Iterator[Callable[[str], Callable[[int, int], None] | None]]:
    """Yield run id -> a candle progress callback (None when not on a terminal)."""
    if not console.is_terminal:
        yield lambda _run_id: None
        return
    from rich.progress import Progress

    with Progress(console=err_console, transient=True) as progress:

        def for_run(run_id: str) -> Callable[[int, int], None]:
            task = progress.add_task(f"replaying {run_id} ({total} runs)", total=None)

            def update(done: int, candles: int) -> None:
                progress.update(task, completed=done, total=candles)

            return update

        yield for_run


def _print(outcomes: list[Any]) -> None:
    table = Table(title=f"{len(outcomes)} runs replayed", title_justify="left")
    for column in ("run", "mode", "candles", "decisions (log / replay)", "replay hash", "result"):
        table.add_column(column, justify="right" if column == "candles" else "left")
    for o in outcomes:
        started = o.run.started
        decisions = f"{o.recorded_decisions:,} / {o.replayed_decisions:,}"
        digest = o.replay_hash[:16] if o.replay_hash else "-"
        result = Text("identical", "green") if o.is_identical else Text("differs", "bold red")
        table.add_row(
            o.run.run_id, started.mode, f"{started.candle_count:,}", decisions, digest, result
        )
    console.print(table)
    for o in outcomes:
        for problem in o.problems:
            console.print(Text(f"run {o.run.run_id}: ", "red") + Text(problem))
        if o.difference is not None:
            where = f"first difference at {o.difference.describe()}"
            console.print(Text(f"run {o.run.run_id}: ", "red") + Text(where))
