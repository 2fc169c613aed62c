"""The `ledger` command starts light: loading it (what `ledger --help` and every command pay
before doing anything) imports no settings, bootstrap, domain, write side, read side or
driver. A command imports what it needs inside its function, and the composition root
loads the bus, the exchange's clients and the trading loop only where it wires them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HEAVY_PACKAGES = (
    "domain",
    "commands",
    "projections",
    "pydantic",
    "pydantic_settings",
    "psycopg",
    "eventsourcing",
    "nats",
    "httpx",
    "numpy",
    "fastapi",
    "uvicorn",
)
LIGHT_ADAPTERS = ("adapters.reports",)
"""The one adapter package the CLI may load up front: plain figure formatting."""
ROOT = Path(__file__).resolve().parents[3]


def modules_after(code: str) -> list[str]:
    """Run `code` in a fresh interpreter (this checkout first on its path) and return the
    modules it left loaded."""
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return list(json.loads(done.stdout))


def heavy(modules: list[str]) -> list[str]:
    def is_heavy(name: str) -> bool:
        top = name.split(".")[0]
        if top in HEAVY_PACKAGES:
            return True
        if top == "adapters" and name != "adapters":
            return not name.startswith(LIGHT_ADAPTERS)
        return name in ("api.bootstrap", "api.settings") or name.startswith("api.http")

    return [name for name in modules if is_heavy(name)]


def test_loading_the_cli_and_building_its_commands_imports_nothing_heavy() -> None:
    modules = modules_after(
        "import typer\nimport api.cli.main as cli\ntyper.main.get_command(cli.app)"
    )

    assert "api.cli.main" in modules
    assert heavy(modules) == []


def test_the_check_names_a_heavy_module_a_command_loads() -> None:
    modules = modules_after("import api.cli.main\nimport api.bootstrap")

    assert "api.bootstrap" in heavy(modules)
    assert "api.settings" in heavy(modules)
    assert any(name.startswith("domain.") for name in heavy(modules))


def test_the_composition_root_loads_no_bus_exchange_client_or_trading_loop() -> None:
    modules = modules_after("import api.bootstrap")

    assert "api.bootstrap" in modules
    loaded = [
        name
        for name in modules
        if name.split(".")[0] in ("nats", "httpx", "numpy", "fastapi", "uvicorn")
        or name.startswith(("adapters.nats", "adapters.trading", "adapters.upbit"))
        or name.startswith(("commands.processes", "commands.run_engine"))
    ]
    assert loaded == []


def test_mapping_an_error_to_its_exit_code_loads_nothing_heavy() -> None:
    modules = modules_after(
        "import api.cli.main as cli\nassert cli.exit_code_for(ValueError('x')) == 1"
    )

    assert heavy(modules) == []
