"""`ledger backtest`: run the strategies over a candle file through the ledger, in memory."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

if TYPE_CHECKING:
    from adapters.market_data.candles_csv import CandleRows
    from commands.backtest.run_backtest import Backtest
    from domain.risk.limits import Limits

from adapters.reports.figures import format_figure, risk_figure
from api.cli.context import ALLOW_NON_KRW_OPTION, console, err_console
from api.cli.risk_options import (
    DailyLossOption,
    MaxDrawdownOption,
    MaxExposureOption,
    MaxOrderOption,
    MaxOrdersPerMinuteOption,
    parse_limits,
)

DEFAULT_CAPITAL = "10000000"
STRATEGIES_HELP = "Comma-separated: volatility_breakout, grid, turtle (all by default)."
PARAM_HELP = (
    "Strategy parameter STRATEGY.NAME=VALUE, repeatable. volatility_breakout: k (0.5), k_mode "
    "(fixed|noise), noise_days (20), ma_days (0 = off), allocation (1.0). grid: lower, upper "
    "(KRW; when omitted +/- range_pct (0.10) around the first close), levels (10), spacing "
    "(arithmetic|geometric), order_krw (100000), stop_loss_pct (off). turtle: entry_days (20), "
    "exit_days (10), atr_days (20), risk_per_unit (0.01), max_units (4), pyramid_step_n (0.5), "
    "stop_n (2.0)."
)


class BacktestInputError(Exception):
    """A backtest option is malformed (exit code 2)."""


def backtest(
    ctx: typer.Context,
    candles: Annotated[
        Path | None,
        typer.Option(
            help="Candle CSV (.csv or .csv.gz): ts_utc,open,high,low,close,volume[,value]. "
            "Or use --from-log."
        ),
    ] = None,
    from_log: Annotated[
        bool,
        typer.Option(
            "--from-log",
            help="Replay the candles recorded in the event log (by "
            "`ledger import` or ingest) instead of a file.",
        ),
    ] = False,
    market: Annotated[str, typer.Option(help="Market of the candles.")] = "KRW-BTC",
    allow_non_krw: bool = ALLOW_NON_KRW_OPTION,
    start: Annotated[
        str | None, typer.Option("--from", help="First candle (ISO UTC time or date), inclusive.")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="End (ISO UTC), exclusive.")] = None,
    strategies: Annotated[
        str, typer.Option(help=STRATEGIES_HELP)
    ] = "volatility_breakout,grid,turtle",
    capital: Annotated[str, typer.Option(help="KRW allocated to each strategy.")] = DEFAULT_CAPITAL,
    fee_rate: Annotated[str, typer.Option(help="Fee rate of every fill.")] = "0.0005",
    slippage_bps: Annotated[str, typer.Option(help="Slippage of market orders, bps.")] = "0",
    max_participation: Annotated[
        str | None,
        typer.Option(
            help="Most of a candle's volume one order may fill (0-1]; off "
            "by default. Exercises PARTIAL fills."
        ),
    ] = None,
    param: Annotated[list[str] | None, typer.Option(help=PARAM_HELP)] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the result as JSON.")
    ] = None,
    report_out: Annotated[
        Path | None,
        typer.Option(
            "--report",
            help="Write a self-contained HTML report: equity, drawdown "
            "and trades on the price, per strategy and for the portfolio.",
        ),
    ] = None,
    persist: Annotated[
        bool,
        typer.Option(
            "--persist",
            help="Also write the run's events to the PostgreSQL event log "
            "(account = the run id); a run is persisted once.",
        ),
    ] = False,
    max_order_krw: MaxOrderOption = None,
    max_exposure_krw: MaxExposureOption = None,
    daily_loss_krw: DailyLossOption = None,
    max_drawdown: MaxDrawdownOption = None,
    max_orders_per_minute: MaxOrdersPerMinuteOption = None,
    engine_path: Annotated[
        str,
        typer.Option(
            "--engine",
            help="fast: visit only candles where something can happen; "
            "plain: every candle, as live trading does. Both append the same events.",
        ),
    ] = "fast",
) -> None:
    """Backtest = replay: candles in, the ledger's events out, and a replay hash.

    Minutes missing from the file become flat synthetic candles (strategies.md). Every signal,
    order and fill goes through the same Order, Position and Portfolio aggregates as trading,
    in memory. Two runs on the same input print the same replay hash. Risk limits
    (--max-order-krw, --max-exposure-krw, --daily-loss-krw, --max-drawdown,
    --max-orders-per-minute) apply as in trading; the report says when each fired, the trading
    state at the end and the orders risk denied.
    """
    from adapters.market_data.candle_quote import check_krw_quote
    from adapters.market_data.candles_csv import read_candles, read_rows
    from api.bootstrap import scratch_ledger
    from api.cli.output_file import check_output_file, write_output_file
    from commands.backtest.run_backtest import BacktestInputs, run_backtest
    from domain.candles.gaps import fill_gaps
    from domain.fills.paper_fill_model import FillModel
    from domain.money import positive_krw, to_decimal
    from domain.strategies.catalog import build_strategies, parse_param

    names = [n.strip() for n in strategies.split(",") if n.strip()]
    overrides: dict[str, dict[str, str]] = {}
    for text in param or []:
        strategy, name, value = parse_param(text)
        overrides.setdefault(strategy, {})[name] = value
    build_strategies(names, overrides)  # refuses an unknown strategy or parameter, first
    try:
        model = FillModel(
            fee_rate=to_decimal(fee_rate, "fee rate"),
            slippage_bps=to_decimal(slippage_bps, "slippage"),
            max_participation=None
            if max_participation is None
            else to_decimal(max_participation, "max participation"),
        )
    except ValueError as error:
        raise BacktestInputError(str(error)) from None
    capital_krw = positive_krw(capital, "capital")
    limits = _limits(
        max_order_krw=max_order_krw,
        max_exposure_krw=max_exposure_krw,
        daily_loss_krw=daily_loss_krw,
        max_drawdown=max_drawdown,
        max_orders_per_minute=max_orders_per_minute,
    )
    for flag, target in (("--json", json_out), ("--report", report_out)):
        if target is not None:
            check_output_file(target, flag)
    if engine_path not in ("fast", "plain"):
        raise BacktestInputError(f"--engine {engine_path!r} must be fast or plain")
    first_at, end_at = _time(start, "--from"), _time(end, "--to")
    if (candles is None) == (not from_log):
        raise BacktestInputError("give the candles either as --candles FILE or with --from-log")
    if from_log:
        from api.cli.context import open_system
        from commands.candle_history import candle_tape_from_log

        with open_system(ctx) as system:
            found = candle_tape_from_log(system.trading, market, start=first_at, end=end_at)
        if found is None:
            window = f"between {start or 'the beginning'} and {end or 'the end'}"
            raise BacktestInputError(
                f"no {market} candles are recorded in the event log {window}; record some with "
                "`ledger import`"
            )
        tape, source_label, file_rows = found, f"the event log ({market})", None
    else:
        assert candles is not None
        file_rows = read_rows(candles, start=first_at, end=end_at)
        closes = file_rows.prices[:, 3]
        check_krw_quote(candles, closes, market, is_non_krw_allowed=allow_non_krw)
        tape, source_label = file_rows.tape(), candles.name
    inputs = BacktestInputs(names, overrides, capital_krw, model, market, limits)
    plain = None
    if engine_path == "plain":
        if candles is not None:
            plain = _progress(
                fill_gaps(read_candles(candles, start=first_at, end=end_at)), len(tape)
            )
        else:
            plain = _progress((tape.candle(i) for i in range(len(tape))), len(tape))
    with _tape_progress() if plain is None else contextlib.nullcontext() as update:
        done = run_backtest(
            tape, inputs, scratch_ledger, records_run=persist, candles=plain, progress=update
        )
    run_id, engine, trading, report = done.run_id, done.engine, done.ledger, done.report
    if persist:
        _persist(ctx, done, market, file_rows, source_label)
    trading.close()
    _print(report)
    if json_out is not None:
        write_output_file(json_out, json.dumps(report, indent=2) + "\n", "--json")
        console.print(f"JSON written to {json_out}")
    if report_out is not None:
        from adapters.reports.backtest_html import render_backtest_html

        curves = {name: engine.equity_curve(name) for name in engine.tracks}
        curves["portfolio"] = sum(curves.values())  # type: ignore[assignment]
        page = render_backtest_html(
            report,
            first_time=tape.open_time(0),
            closes=engine.closes,
            equity=curves,
            title=f"Backtest {run_id} of {source_label}",
        )
        write_output_file(report_out, page, "--report")
        console.print(f"HTML report written to {report_out}")


def _persist(
    ctx: typer.Context,
    done: Backtest,
    market: str,
    rows: CandleRows | None,
    file_name: str,
) -> None:
    """Copy the run's events to the log, after the candles of a file, in one transaction each.

    The run's candles go to the log first (those already recorded are skipped), so that
    `ledger replay` finds every input of the run in the log.
    """
    from api.bootstrap import migrator
    from api.cli.candles import record_candle_rows
    from api.cli.context import make_cause, open_system, state_of
    from commands.backtest.run_backtest import persist_backtest, refuse_persisted
    from domain.errors import CandleConflictError

    with open_system(ctx) as system:
        refuse_persisted(system.trading, done.run_id)
        if rows is not None:
            settings = state_of(ctx).settings()
            migrator(settings).up()  # the candle table beside the log, as `ledger import`
            cause = make_cause(None, correlation_id=f"run:{done.run_id}")
            try:
                report, _ = record_candle_rows(
                    system, settings, market, rows, f"csv:{file_name}", cause
                )
            except CandleConflictError as error:
                raise BacktestInputError(
                    f"the run was not persisted: {error}. The event log holds other {market} "
                    "candles for that time, so the run could not be replayed from the log; "
                    "backtest the log's candles with --from-log instead"
                ) from None
            if report.recorded:
                console.print(f"recorded {report.recorded:,} candles of the run in the event log")
        copied = persist_backtest(system.trading, done)
    console.print(f"persisted {copied:,} events of run {done.run_id} to the event log")


def _limits(**given: str | None) -> Limits:
    """Return the run's risk limits; a bad value names its flag, the value and the rule."""
    return parse_limits(BacktestInputError, **given)


def _time(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BacktestInputError(
            f"{option} {text!r} is not an ISO 8601 time, e.g. 2023-03-01 or 2023-03-01T09:00Z"
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _progress(candles: Iterable[Any], total: int) -> Iterator[Any]:
    if not console.is_terminal:
        yield from candles
        return
    from rich.progress import Progress

    with Progress(console=err_console, transient=True) as progress:
        task = progress.add_task("replaying candles", total=total)
        for n, candle in enumerate(candles, start=1):
            yield candle
            if n % 2000 == 0:
                progress.update(task, completed=n)


@contextmanager
def _tape_progress() -> Iterator[Callable[[int, int], None] | None]:
    if not console.is_terminal:
        yield None
        return
    from rich.progress import Progress

    with Progress(console=err_console, transient=True) as progress:
        task = progress.add_task("replaying candles", total=None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield update


def _print(report: dict[str, Any]) -> None:
    table = Table(title=f"{report['candles']:,} candles", title_justify="left")
    names = [*report["strategies"], "portfolio"]
    table.add_column("metric")
    for name in names:
        table.add_column(name, justify="right")
    sections = {**report["strategies"], "portfolio": report["portfolio"]}
    for key in ("fills", "final_equity", "denials"):
        table.add_row(key, *(format_figure(sections[n].get(key)) for n in names))
    metric_names = list(next(iter(sections.values()))["metrics"])
    for key in metric_names:
        table.add_row(key, *(format_figure(sections[n]["metrics"].get(key)) for n in names))
    console.print(table)
    _print_risk(report["risk"])
    console.print(f"replay hash {report['replay_hash']}")


def _print_risk(risk: dict[str, Any]) -> None:
    limits = {name: value for name, value in risk["limits"].items() if value is not None}
    if not limits:
        console.print("risk limits: none")
        return
    console.print(
        "risk limits: " + ", ".join(f"{k} {risk_figure(k, v)}" for k, v in limits.items())
    )
    for fired in risk["fired"]:
        utc = datetime.fromisoformat(fired["candle_open_utc"])
        kst = datetime.fromisoformat(fired["candle_open_kst"])
        who = f" of {fired['strategy_id']}" if fired["strategy_id"] else ""
        console.print(
            f"limit fired at the candle of {utc:%Y-%m-%d %H:%M} UTC ({kst:%Y-%m-%d %H:%M} KST): "
            f"{fired['limit']}{who} {risk_figure(fired['limit'], fired['measured'])}, limit "
            f"{risk_figure(fired['limit'], fired['threshold'])} -> {fired['action']}"
        )
    if not risk["fired"]:
        console.print("no limit fired")
    console.print(f"trading state at the end: {risk['final_state']} ({risk['final_state_reason']})")
    if risk["resume"]:
        console.print(risk["resume"])
