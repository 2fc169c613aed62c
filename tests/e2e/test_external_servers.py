"""With external PostgreSQL and NATS URLs configured, nothing is started and the same code
runs against them."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.embedded.nats_server import EmbeddedNats
from adapters.embedded.postgres_server import EmbeddedPostgres
from tests.e2e.conftest import LEDGER


@pytest.fixture(scope="module")
def external_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    root = tmp_path_factory.mktemp("external")
    postgres, nats = EmbeddedPostgres(root / "pg"), EmbeddedNats(root / "nats")
    try:
        yield {
            "LEDGER_DATABASE__URL": postgres.start().url(),
            "LEDGER_NATS__URL": nats.start().url,
        }
    finally:
        nats.stop()
        postgres.stop()


def ledger(data_dir: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LEDGER, "--data-dir", str(data_dir), *args],
        env={**os.environ, **env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_external_urls_start_nothing_and_commands_use_them(
    external_servers: dict[str, str], tmp_path: Path
) -> None:
    data_dir = tmp_path / "ledger"
    # When the services are brought up with both URLs configured
    up = ledger(data_dir, external_servers, "services", "up", "--json")
    # Then nothing is started under the data dir
    assert up.returncode == 0, up.stderr
    assert "nothing to start" in up.stdout
    assert not (data_dir / "pg").exists() and not (data_dir / "nats").exists()
    # And commands run against the external database
    allocate = ledger(
        data_dir, external_servers, "capital", "allocate", "--strategy", "ext", "--amount", "500000"
    )
    assert allocate.returncode == 0, allocate.stderr
    shown = ledger(data_dir, external_servers, "capital", "show", "--json")
    assert json.loads(shown.stdout)[0]["allocated_krw"] == "500000"
    assert not (data_dir / "pg").exists()


def test_show_config_names_the_external_servers_with_the_password_redacted(
    external_servers: dict[str, str], tmp_path: Path
) -> None:
    env = {
        **external_servers,
        "LEDGER_DATABASE__URL": "postgresql://trader:hunter2@db.example:5432/ledger",
    }
    result = ledger(tmp_path, env, "show-config", "--json")
    assert result.returncode == 0, result.stderr
    config = json.loads(result.stdout)
    assert config["database"]["url"] == "postgresql://trader:**********@db.example:5432/ledger"
    assert config["nats"]["url"] == external_servers["LEDGER_NATS__URL"]
    assert "hunter2" not in result.stdout
