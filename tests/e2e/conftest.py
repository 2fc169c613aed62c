"""The e2e tier: run the real `ledger` executable against its own embedded servers."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, field, replace
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

LEDGER = str(Path(sys.executable).with_name("ledger"))
os.environ.setdefault("LEDGER_DATABASE__EMBEDDED_FSYNC", "false")
"""Every `ledger` the tests start keeps throwaway data: its embedded PostgreSQL skips the flush
to disk that only an operating-system crash needs (`tests/integration/conftest.py`)."""
_POSTGRES_URLS: dict[Path, str] = {}
"""Each data dir's PostgreSQL URL, once `ledger services up` told it (a subprocess per count
cost a second or two each)."""


def run_in_process(
    args: list[str], env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `ledger ARGS` in this process: the executable's own `main`, with `env` added to the
    environment while it runs and its output captured, as a finished process.

    What a subprocess checks besides (the console script, the interpreter's start, the exit
    status the shell sees) is left to a few subprocess cases in each file; the rest of the
    command, from parsing the arguments to the exit code, is the same code.
    """
    from api.cli.context import console, err_console
    from api.cli.main import main

    added = {"COLUMNS": "200", **(env or {})}
    saved = {name: os.environ.get(name) for name in added}
    out, err = io.StringIO(), io.StringIO()
    os.environ.update(added)
    # The consoles read COLUMNS once, when this process first imported them: the width a
    # subprocess would take from its environment is set here for the command's run.
    widths = console.width, err_console.width
    console.width = err_console.width = int(added["COLUMNS"])
    try:
        with redirect_stdout(out), redirect_stderr(err):
            code = main(list(args))
    finally:
        console.width, err_console.width = widths
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return subprocess.CompletedProcess([LEDGER, *args], code, out.getvalue(), err.getvalue())


@dataclass
class Cli:
    """Runs `ledger` with a private data dir and database schema."""

    data_dir: Path
    schema: str
    env: dict[str, str] = field(default_factory=dict)
    in_process: bool = False
    """Run `ledger` in this process (`run_in_process`) instead of as a subprocess, sparing
    the second or two each interpreter takes to start; `timeout` is then not applied."""

    def __call__(
        self, *args: str, extra_env: dict[str, str] | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        added = {
            "LEDGER_DATABASE__SCHEMA_NAME": self.schema,
            "COLUMNS": "200",
            **self.env,
            **(extra_env or {}),
        }
        if self.in_process:
            return run_in_process(["--data-dir", str(self.data_dir), *args], added)
        return subprocess.run(
            [LEDGER, "--data-dir", str(self.data_dir), *args],
            capture_output=True,
            text=True,
            env={**os.environ, **added},
            timeout=timeout,
            check=False,
        )

    def inline(self) -> Cli:
        """The same `ledger` (data dir, schema, environment), run in this process."""
        return replace(self, in_process=True)

    def postgres_url(self) -> str:
        """The data dir's PostgreSQL, started if it is down (`ledger services up`)."""
        result = self("services", "up", "--json")
        assert result.returncode == 0, result.stderr
        services = json.loads(result.stdout)["services"]
        url = str(next(s["url"] for s in services if s["name"] == "postgres"))
        _POSTGRES_URLS[self.data_dir] = url
        return url

    def event_count(self) -> int:
        """How many events this test's log holds (0 before its schema exists)."""
        try:
            return self._event_count(_POSTGRES_URLS.get(self.data_dir) or self.postgres_url())
        except psycopg.OperationalError:  # a test stopped the servers: start them again
            return self._event_count(self.postgres_url())

    def _event_count(self, url: str) -> int:
        with psycopg.connect(url, connect_timeout=10) as conn:
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


def new_cli(data_dir: Path) -> Cli:
    """A `ledger` with a log of its own: its own schema and NATS subject prefix (one stream
    per log), in the session's data dir."""
    name = uuid.uuid4().hex[:10]
    return Cli(data_dir=data_dir, schema=f"e2e_{name}", env={"LEDGER_ENV": f"e{name}"})


@pytest.fixture
def cli(e2e_data_dir: Path) -> Cli:
    """One log per test."""
    return new_cli(e2e_data_dir)
