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
from functools import cache
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.text import Text
from typer.core import TyperGroup

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


EXIT_CODES: tuple[tuple[int, tuple[str, ...]], ...] = (
    (
        4,
        (
            "api.cli.projections.ProjectionMismatchError",
            "api.cli.replay.ReplayMismatchError",
            "api.cli.parity.ParityMismatchError",
            "api.cli.audit.ChainMismatchError",
            "api.cli.audit.BundleMismatchError",
            "adapters.audit_bundle.export.LogNotChainedError",
        ),
    ),
    (2, ("adapters.upbit.errors.UpbitPermanentError",)),
    (
        3,
        (
            "adapters.upbit.errors.UpbitError",
            "api.server_urls.ServiceUnavailableError",
            "adapters.postgres.event_store.EventStoreUnavailableError",
            "adapters.embedded.errors.EmbeddedServerError",
            "adapters.postgres.migration_errors.MigrationDatabaseUnavailableError",
            "commands.errors.ConcurrencyConflictError",
            "eventsourcing.persistence.OperationalError",
            "commands.errors.ExchangeUnavailableError",
            "commands.errors.RunLeaseLostError",
        ),
    ),
    (
        2,
        (
            "domain.errors.DomainError",
            "commands.errors.NotFoundError",
            "api.settings.ConfigError",
            "adapters.postgres.migration_errors.MigrationError",
            "adapters.market_data.candle_file_error.CandleFileError",
            "api.cli.backtest.BacktestInputError",
            "api.cli.candles.CandleInputError",
            "api.cli.replay.ReplayInputError",
            "commands.errors.DuplicateRunError",
            "commands.errors.RunHeldError",
            "commands.errors.RunStateVersionError",
            "api.cli.trading_run.TradingRunInputError",
            "api.cli.parity.ParityInputError",
            "api.cli.reconciliations.ReconcileInputError",
            "adapters.audit_bundle.export.ExportTargetError",
            "api.cli.audit.BundleInputError",
            "api.cli.output_file.OutputFileError",
        ),
    ),
)
"""The exit code of each kind of error (see the module docstring), the first that matches
winning: each error class named by the module that defines it and its name."""


def loaded_classes(names: tuple[str, ...]) -> tuple[type, ...]:
    """Return the named classes whose modules have been imported.

    An error can only be an instance of a class whose module has run, so the others need not
    be loaded: importing them all cost a refused command a second or two.
    """
    found = []
    for name in names:
        module_name, _, class_name = name.rpartition(".")
        module = sys.modules.get(module_name)
        found.append(getattr(module, class_name, None))
    return tuple(cls for cls in found if isinstance(cls, type))


def exit_code_for(error: BaseException) -> int:
    """Return the exit code for an error that reached the top (see the module docstring)."""
    for code, names in EXIT_CODES:
        if isinstance(error, loaded_classes(names)):
            return code
    return 1


@cache
def command() -> TyperGroup:
    """Return `ledger` as a click command, built once per process.

    Typer evaluates every command's signature to build it; a process that runs several
    commands (the e2e tests run most in their own process) builds it once.
    """
    return typer.main.get_group(app)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit code instead of raising."""
    try:
        command().main(args=argv, prog_name="ledger", standalone_mode=False)
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
