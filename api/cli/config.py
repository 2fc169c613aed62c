"""`ledger show-config`: the merged settings, secrets redacted, and where each can be set."""

from __future__ import annotations

import json

import typer

from api.cli.context import JSON_OPTION, console, print_json, state_of


def show_config(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """Print the merged configuration with secrets redacted.

    Precedence, lowest first: defaults < TOML file (--config, or ./ledger.toml) < secrets
    directory (--secrets-dir) < environment (LEDGER_SECTION__KEY) < command-line flags.
    """
    from api.settings import SECRET_SETTINGS, redacted

    settings = state_of(ctx).settings()
    data = redacted(settings)
    if as_json:
        print_json(data)
        return
    for section, values in data.items():
        if not isinstance(values, dict):
            console.print(
                f"{section} = {json.dumps(values)}    # LEDGER_{section.upper()}", soft_wrap=True
            )
    for section, values in data.items():
        if isinstance(values, dict):
            console.print(f"\n[{section}]")
            for key, value in values.items():
                dotted = f"{section}.{key}"
                if dotted in SECRET_SETTINGS and value is not None and dotted != "database.url":
                    value = "********** (secret, set)"
                env_name = f"LEDGER_{section.upper()}__{key.upper()}"
                shown = "(unset)" if value is None else json.dumps(value)
                console.print(f"{key} = {shown}    # {env_name}", soft_wrap=True)
    if settings.database.url is None:
        console.print(f"\n# database: embedded PostgreSQL under {settings.data_dir / 'pg'}")
    if settings.nats.url is None:
        console.print(f"# nats: embedded NATS JetStream under {settings.data_dir / 'nats'}")
