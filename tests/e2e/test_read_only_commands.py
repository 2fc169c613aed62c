"""Read-only commands never start a server: with the servers down they say so and exit 3."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.embedded.services import EmbeddedServices
from api.cli.main import main

READ_ONLY = [
    ["status"],
    ["status", "--json"],
    ["projections", "status"],
    ["migrate", "status"],
    ["audit", "verify"],
    ["audit", "head"],
    ["reconciliations", "list"],
    ["parity"],
]


@pytest.fixture
def servers_down(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # The embedded servers of a data dir that never ran (no URL of another server configured).
    for name in ("LEDGER_DATABASE__URL", "LEDGER_NATS__URL"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "ledger"


@pytest.mark.parametrize("command", READ_ONLY, ids=" ".join)
def test_a_read_only_command_with_the_servers_down_starts_nothing_and_says_how_to_start_them(
    servers_down: Path, command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    services = EmbeddedServices(servers_down)
    try:
        # When a read-only command runs while the servers are down
        code = main(["--data-dir", str(servers_down), *command])

        # Then it exits 3, saying that the server is down and how to start it
        said = " ".join(capsys.readouterr().err.split())
        assert code == 3, said
        assert "PostgreSQL" in said and "is not running" in said, said
        assert "ledger services up" in said, said
        # And it started no server
        assert [s.name for s in services.status().services if s.is_running] == []
    finally:
        services.down()  # had it started one, stop it


def test_show_config_with_the_servers_down_starts_nothing(
    servers_down: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--data-dir", str(servers_down), "show-config", "--json"]) == 0
    assert "database" in capsys.readouterr().out
    services = EmbeddedServices(servers_down)
    assert [s.name for s in services.status().services if s.is_running] == []
