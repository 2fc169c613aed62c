"""`ledger status`: every process of the system, how far behind it is, positions and risk."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import typer
from rich.table import Table

from api.cli.context import console, krw, open_system, print_json


def status(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the status as JSON."),  # noqa: FBT001, B008
) -> None:
    """Show the trading run and its service, the read models' lag, positions and risk state.

    The trading service writes its state (running, waiting for a candle, restarting after an
    outage, finished, failed) beside the data; the rest is read from the log and the read
    models. Example: ledger status --json
    """
    from api.bootstrap import migrator
    from api.cli.projections import _status_rows
    from api.cli.trading_run import pipeline_status_path, read_status, status_path
    from commands.parity import trading_runs

    with open_system(ctx, with_queries=True, read_only=True) as system:
        migrator(system.settings, start_embedded=False).up()
        service = read_status(status_path(system.settings.data_dir, system.settings.env))
        pipeline = read_status(pipeline_status_path(system.settings.data_dir, system.settings.env))
        runs = [
            {
                "run_id": o.run_id,
                "mode": o.mode,
                "exchange": o.exchange,
                "strategies": list(o.strategies),
                "first_candle_at": o.first_candle_at.isoformat(),
                "opened_at_position": p,
            }
            for p, o in trading_runs(system.trading)
        ]
        projections = _status_rows(system)
        assert system.queries is not None
        positions = [dict(row) for row in system.queries.positions(strategy_id=None)]
        risk = [dict(row) for row in system.queries.risk_state()]
        chain_status = getattr(system.trading.recorder, "chain_status", None)
        audit_chain = chain_status().as_dict() if chain_status is not None else None
        reconciliation = _reconciliation(
            system.trading, [o for _, o in trading_runs(system.trading)]
        )
    report: dict[str, Any] = {
        "at": datetime.now(tz=UTC).isoformat(),
        "trading_service": service,
        "runs": runs,
        "read_models": projections,
        "cqrs_pipeline": pipeline,
        "positions": positions,
        "risk": risk,
        "reconciliation": reconciliation,
        "audit_chain": audit_chain,
    }
    if as_json:
        print_json(report)
        return
    _print(report)


def _reconciliation(trading: Any, runs: list[Any]) -> dict[str, Any]:
    """Return the last reconciliation of each exchange run and those that wait for an operator."""
    from api.cli.reconciliations import view
    from commands.handlers import reconciliations

    last = {}
    for opened in runs:
        if opened.exchange == "paper":
            continue
        found = reconciliations.reconciliations_of_run(trading, opened.run_id)
        last[opened.run_id] = view(found[-1]) if found else None
    pending = [view(r) for r in reconciliations.pending_acknowledgements(trading)]
    return {
        "last": last,
        "waiting_for_acknowledgement": pending,
        "note": "paper runs have no exchange and are not reconciled",
    }


def _print(report: dict[str, Any]) -> None:
    from api.cli.audit import chain_line

    for line in service_lines(report["trading_service"]):
        console.print(line)
    runs = Table(title="trading runs")
    for column in ("run", "mode", "exchange", "strategies", "first candle (UTC)"):
        runs.add_column(column)
    for run in report["runs"]:
        runs.add_row(
            run["run_id"],
            run["mode"],
            run["exchange"],
            ", ".join(run["strategies"]),
            run["first_candle_at"],
        )
    console.print(runs)
    lag = Table(title="read models")
    for column in ("read model", "position", "behind", "stopped at"):
        lag.add_column(column)
    for row in report["read_models"]:
        parked = row["parked"]
        lag.add_row(
            row["name"],
            str(row["position"]),
            str(row["behind"]),
            "" if parked is None else f"{parked['position']} {parked['bus_name']}",
        )
    console.print(lag)
    _print_pipeline(report["cqrs_pipeline"])
    positions = Table(title="positions")
    for column in ("strategy", "market", "BTC", "cost KRW", "realised P&L KRW", "fees KRW"):
        positions.add_column(column)
    for row in report["positions"]:
        positions.add_row(
            str(row["strategy_id"]),
            str(row["market"]),
            str(row["qty_btc"]),
            krw(row["cost_basis_krw"]),
            krw(row["realised_pnl_krw"]),
            krw(row["fees_krw"]),
        )
    console.print(positions)
    reconciliation = report["reconciliation"]
    for run_id, last in reconciliation["last"].items():
        if last is None:
            console.print(f"reconciliation: run {run_id} not reconciled yet")
            continue
        console.print(
            f"reconciliation: run {run_id} last #{last['sequence']} ({last['trigger']}) "
            f"{last['reconciliation_id']}: {len(last['differences'])} difference(s), "
            f"{last['unexplained']} unexplained"
        )
    for waiting in reconciliation["waiting_for_acknowledgement"]:
        console.print(
            f"reconciliation {waiting['reconciliation_id']} (run {waiting['run_id']} "
            f"#{waiting['sequence']}) has {waiting['unexplained']} unexplained difference(s) "
            "and keeps trading HALTED until acknowledged: ledger reconciliations acknowledge "
            f"{waiting['reconciliation_id']} --reason ..."
        )
    if not reconciliation["last"]:
        console.print("reconciliation: no run on an exchange (paper runs are not reconciled)")
    for row in report["risk"]:
        limits = ", ".join(
            f"{k} {row[k] if row[k] is not None else 'none'}"
            for k in (
                "max_order_krw",
                "max_exposure_krw",
                "daily_loss_krw",
                "max_drawdown",
                "max_orders_per_minute",
            )
        )
        console.print(
            f"risk: account {row['account']} trading {row['trading_state']} ({row['reason']}, "
            f"by {row['changed_by']}); limits: {limits}"
        )
    if report["audit_chain"] is not None:
        console.print(chain_line(report["audit_chain"]) + " (ledger audit verify)")


def service_lines(service: dict[str, Any] | None) -> list[str]:
    """Return the trading service's status (as its status file holds it) in lines."""
    if service is None:
        return ["trading service: no status yet (start it with `ledger run`)"]
    lines = [
        f"trading service: run {service['run_id']} {service['state'].upper()}, "
        f"{service['candles']:,} candles processed, last {service['last_candle_at']}, "
        f"waiting for {service['waiting_for']}, {service['restarts']} restarts, "
        f"updated {service['updated_at']}"
    ]
    if service.get("last_restart_reason") and service["state"] != "restarting":
        lines.append(
            f"  newest restart at {service['last_restart_at']}: {service['last_restart_reason']}"
        )
    if service["detail"]:
        lines.append(f"  {service['detail']}")
    if service.get("feed_down_since"):
        lines.append(
            f"  market feed: {service['feed_detail']}, since {service['feed_down_since']}; "
            f"next try at {service['feed_next_try_at']}"
        )
    return lines


def _print_pipeline(pipeline: dict[str, Any] | None) -> None:
    if pipeline is None:
        console.print("CQRS pipeline: no status yet (`ledger run` writes it)")
        return
    console.print(f"CQRS pipeline: {pipeline_restarts(pipeline)}, updated {pipeline['updated_at']}")
    for name, part in pipeline["parts"].items():
        if part["state"] != "up" or part["restarts"]:
            cause = f"{part.get('last_cause')}: " if part.get("last_cause") else ""
            console.print(
                f"  {name} {part['state']} at position {part['position']}, "
                f"{pipeline_restarts(part)}; last at {part['last_error_at']}: "
                f"{cause}{part['last_error']}"
            )


def pipeline_restarts(report: dict[str, Any]) -> str:
    """Return a pipeline's (or a part's) session restarts in words: real outages apart."""
    # Reports written before reconnects and timeouts were told apart count every restart.
    reconnects = report.get("reconnects", report["restarts"])
    timeouts = report.get("timeouts", 0)
    return (
        f"{reconnects} reconnects (NATS or the database out of reach), {timeouts} session "
        "restarts after NATS answered late"
    )
