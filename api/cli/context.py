"""What every CLI command shares: the global options, settings, the console and the Cause."""

from __future__ import annotations

import getpass
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID

import typer
from rich.console import Console

if TYPE_CHECKING:
    from api.bootstrap import System
    from api.settings import Settings
    from domain.events import Cause

console = Console(highlight=False, markup=False)
err_console = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)


@dataclass
class CliState:
    """The root command's options, and the settings loaded from them on first use."""

    config_file: Path | None = None
    secrets_dir: Path | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    _settings: Settings | None = None

    def settings(self) -> Settings:
        """Return the merged settings (defaults < file < secrets < env < flags)."""
        if self._settings is None:
            from api.settings import load_settings

            self._settings = load_settings(
                config_file=self.config_file, secrets_dir=self.secrets_dir, overrides=self.overrides
            )
        return self._settings


def state_of(ctx: typer.Context) -> CliState:
    """Return the CLI state stored by the root callback."""
    root = ctx.find_root()
    if not isinstance(root.obj, CliState):
        root.obj = CliState()
    return root.obj


@contextmanager
def open_system(
    ctx: typer.Context, *, with_queries: bool = False, read_only: bool = False
) -> Iterator[System]:
    """Bootstrap the system for one command and close its connections afterwards.

    A `read_only` command never starts an embedded server: with it down, it fails with
    `ServiceUnavailableError` (exit 3) saying how to start it.
    """
    from api.bootstrap import bootstrap

    settings = state_of(ctx).settings()
    system = bootstrap(settings, with_queries=with_queries, start_embedded=not read_only)
    try:
        yield system
    finally:
        system.close()


def make_cause(actor: str | None, correlation_id: str | None = None) -> Cause:
    """Return the Cause of a command typed now by a person at the terminal."""
    from domain.events import Cause

    request_id = f"cli:{uuid.uuid4()}"
    return Cause(
        occurred_at=datetime.now(tz=UTC),
        actor=actor or f"cli:{getpass.getuser()}",
        causation_id=request_id,
        correlation_id=correlation_id or request_id,
    )


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Path | UUID):
        return str(value)
    return value


def krw(value: Decimal) -> str:
    """Return a KRW figure for a table: grouped thousands, two decimals (JSON keeps all)."""
    return f"{value.quantize(Decimal('0.01')):,}"


def print_json(data: Any) -> None:
    """Print data as JSON (Decimals as strings, times in ISO 8601)."""
    console.print_json(json.dumps(_plain(data)))


ACTOR_OPTION = typer.Option(None, "--actor", help="Who runs the command (default: cli:$USER).")
JSON_OPTION = typer.Option(False, "--json", help="Print the result as JSON.")
ALLOW_NON_KRW_OPTION = typer.Option(
    False,
    "--allow-non-krw",
    help="Read a candle file whose name or prices say it is not of a KRW market (e.g. "
    "Binance BTC/USDT) as the market's KRW candles anyway.",
)
