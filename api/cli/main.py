"""The `ledger` command: global options, command groups, and errors mapped to exit codes.

Exit codes (style S4.4, with the issue's rule that every refused input exits 2):
  0  done
  1  unexpected error (a bug: please report it with the message)
  2  bad input or refused: a malformed value, a broken rule, an unknown id, bad configuration
  3  a server or the exchange is unavailable (or answered garbage), or writers kept
     conflicting: retry may succeed
  4  a check found a difference: a rebuilt read model is not the live one, a read model
     stopped on an event (parked), a replay decided otherwise than the log records, or the
     log does not match its audit hash chain, or an audit bundle does not verify
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.text import Text

from api.cli import audit, capital, migrate, orders, projections, reconciliations, risk, services
from api.cli.backtest import backtest
from api.cli.candles import import_candles, ingest
from api.cli.config import show_config
from api.cli.context import CliState, err_console
from api.cli.parity import parity
from api.cli.replay import replay
from api.cli.run import api, run
from api.cli.sandbox import sandbox
from api.cli.status import status

app = typer.Typer(
    name="ledger",
    help="upbit-ledger: an event-sourced ledger for automated BTC trading on Upbit's KRW market."
    "\n\nSettings: defaults < TOML file < secrets dir < environment (LEDGER_SECTION__KEY) < "
    "flags. Exit codes: 0 done, 1 unexpected error, 2 bad input or refused by a rule, "
    "3 a server unavailable or a write conflict (retry), 4 a verification found a difference.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def root(
    ctx: typer.Context,
    config: Annotated[
        Path | None, typer.Option(help="TOML config file (default: ./ledger.toml if present).")
    ] = None,
    secrets_dir: Annotated[
        Path | None, typer.Option(help="Directory of secret files named like their variables.")
    ] = None,
    data_dir: Annotated[
        Path | None, typer.Option(help="Where embedded servers keep data (default: ./.ledger).")
    ] = None,
    database_url: Annotated[
        str | None, typer.Option(help="External PostgreSQL URL (no embedded server).")
    ] = None,
    nats_url: Annotated[str | None, typer.Option(help="External NATS URL.")] = None,
) -> None:
    """Store the global options; settings load on first use."""
    overrides: dict[str, Any] = {}
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    if database_url is not None:
        overrides["database"] = {"url": database_url}
    if nats_url is not None:
        overrides["nats"] = {"url": nats_url}
    ctx.obj = CliState(config_file=config, secrets_dir=secrets_dir, overrides=overrides)


app.command("run")(run)
app.command("parity")(parity)
app.command("status")(status)
app.command("api")(api)
app.command("show-config")(show_config)
app.command("backtest")(backtest)
app.command("replay")(replay)
app.command("import")(import_candles)
app.command("ingest")(ingest)
app.command("sandbox")(sandbox)
app.add_typer(services.app, name="services")
app.add_typer(migrate.app, name="migrate")
app.add_typer(orders.app, name="order")
app.add_typer(capital.app, name="capital")
app.add_typer(risk.app, name="risk")
app.command("reconcile")(reconciliations.reconcile)
app.add_typer(reconciliations.app, name="reconciliations")
app.add_typer(projections.app, name="projections")
app.add_typer(audit.app, name="audit")
app.command("relay")(projections.relay)
app.command("project")(projections.project)


def exit_code_for(error: BaseException) -> int:
    """Return the exit code for an error that reached the top (see the module docstring)."""
    from eventsourcing.persistence import OperationalError

    from adapters.audit_bundle.export import ExportTargetError, LogNotChainedError
    from adapters.embedded.errors import EmbeddedServerError
    from adapters.market_data.candles_csv import CandleFileError
    from adapters.postgres.event_store import EventStoreUnavailableError
    from adapters.postgres.migration_errors import MigrationDatabaseUnavailableError, MigrationError
    from adapters.upbit.errors import UpbitError, UpbitPermanentError
    from api.bootstrap import ServiceUnavailableError
    from api.cli.audit import BundleInputError, BundleMismatchError, ChainMismatchError
    from api.cli.backtest import BacktestInputError
    from api.cli.candles import CandleInputError
    from api.cli.output_file import OutputFileError
    from api.cli.parity import ParityInputError, ParityMismatchError
    from api.cli.projections import ProjectionMismatchError
    from api.cli.reconciliations import ReconcileInputError
    from api.cli.replay import ReplayInputError, ReplayMismatchError
    from api.cli.trading_run import TradingRunInputError
    from api.settings import ConfigError
    from commands.errors import (
        ConcurrencyConflictError,
        DuplicateRunError,
        ExchangeUnavailableError,
        NotFoundError,
        RunHeldError,
        RunLeaseLostError,
        RunStateVersionError,
    )
    from domain.errors import DomainError

    mismatch = (ProjectionMismatchError, ReplayMismatchError, ParityMismatchError)
    if isinstance(error, (*mismatch, ChainMismatchError, BundleMismatchError, LogNotChainedError)):
        return 4
    if isinstance(error, UpbitPermanentError):
        return 2
    unavailable = (
        UpbitError,
        ServiceUnavailableError,
        EventStoreUnavailableError,
        EmbeddedServerError,
        MigrationDatabaseUnavailableError,
        ConcurrencyConflictError,
        OperationalError,
        ExchangeUnavailableError,
        RunLeaseLostError,
    )
    if isinstance(error, unavailable):
        return 3
    bad_input = (
        DomainError,
        NotFoundError,
        ConfigError,
        MigrationError,
        CandleFileError,
        BacktestInputError,
        CandleInputError,
        ReplayInputError,
        DuplicateRunError,
        RunHeldError,
        RunStateVersionError,
        TradingRunInputError,
        ParityInputError,
        ReconcileInputError,
        ExportTargetError,
        BundleInputError,
        OutputFileError,
    )
    if isinstance(error, bad_input):
        return 2
    return 1


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit code instead of raising."""
    command = typer.main.get_command(app)
    try:
        command.main(args=argv, prog_name="ledger", standalone_mode=False)
    except typer.Exit as done:
        return int(done.exit_code)
    except typer.Abort:
        err_console.print("aborted")
        return 130
    except typer.TyperException as usage:  # a usage error: unknown option, bad value
        show = getattr(usage, "show", None)
        if callable(show):
            show()
        else:
            err_console.print(str(usage))
        return 2
    except Exception as error:  # noqa: BLE001 - the one place errors become exit codes
        code = exit_code_for(error)
        kind = "error" if code != 1 else f"unexpected error ({type(error).__name__})"
        err_console.print(Text.assemble((f"{kind}:", "bold red"), " ", str(error)))
        if code == 1:
            err_console.print("this is a bug: please report it with the command you ran")
        return code
    return 0


def entry_point() -> None:
    """Console-script entry point."""
    sys.exit(main())
