"""The e2e tier: run the real `ledger` executable against its own embedded servers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

LEDGER = str(Path(sys.executable).with_name("ledger"))


@dataclass
class Cli:
    """Runs `ledger` with a private data dir and database schema."""

    data_dir: Path
    schema: str
    env: dict[str, str] = field(default_factory=dict)

    def __call__(
        self, *args: str, extra_env: dict[str, str] | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            "LEDGER_DATABASE__SCHEMA_NAME": self.schema,
            "COLUMNS": "200",
            **self.env,
            **(extra_env or {}),
        }
        return subprocess.run(
            [LEDGER, "--data-dir", str(self.data_dir), *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
            check=False,
        )

    def postgres_url(self) -> str:
        result = self("services", "up", "--json")
        assert result.returncode == 0, result.stderr
        services = json.loads(result.stdout)["services"]
        return str(next(s["url"] for s in services if s["name"] == "postgres"))

    def event_count(self) -> int:
        url = self.postgres_url()
        with psycopg.connect(url) as conn:
            table = sql.Identifier(self.schema, "ledger_events")
            exists = conn.execute(
                "SELECT to_regclass(%s) IS NOT NULL", (f"{self.schema}.ledger_events",)
            ).fetchone()
            if not exists or not exists[0]:
                return 0
            row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(table)).fetchone()
            return int(row[0]) if row else 0


@pytest.fixture(scope="session")
def e2e_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    data_dir = tmp_path_factory.mktemp("ledger-e2e")
    yield data_dir
    subprocess.run(
        [LEDGER, "--data-dir", str(data_dir), "services", "down"],
        capture_output=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def cli(e2e_data_dir: Path) -> Cli:
    # One log per test: its own schema, and its own NATS subject prefix (one stream per log).
    name = uuid.uuid4().hex[:10]
    return Cli(data_dir=e2e_data_dir, schema=f"e2e_{name}", env={"LEDGER_ENV": f"e{name}"})
