"""The README's sandbox run, twice in a row: the second `ledger run` resumes the first run.

The sandbox `ledger run --candles` starts keeps nothing across runs; the second run restores
it from the run's log (funds, orders, clock), is reconciled clean, stays ACTIVE, and
`ledger parity` still finds the backtest's decisions.
"""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest

from tests.e2e.conftest import Cli
from tests.sandbox_process import FIXTURE

GRID = ["grid.lower=26000000", "grid.upper=34000000", "grid.levels=9"]
"""A grid around the fixture's first price: its orders rest at the sandbox when a run stops."""


@pytest.fixture(scope="module")
def two_hours(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture's first two hours (120 minutes), as a file."""
    with gzip.open(FIXTURE, "rt") as source:
        lines = source.read().splitlines()
    path = tmp_path_factory.mktemp("candles") / "krw-btc-2-hours.csv.gz"
    kept = [lines[0], *[line for line in lines[1:] if line < "2023-03-09T02"]]
    with gzip.open(path, "wt") as target:
        target.write("\n".join(kept) + "\n")
    return path


@pytest.mark.timeout(600)
def test_a_sandbox_run_run_again_resumes_on_a_restored_sandbox_clean_and_in_parity(
    cli: Cli, two_hours: Path
) -> None:
    def run() -> str:
        params = [flag for value in GRID for flag in ("--param", value)]
        ran = cli(
            *("run", "--exchange", "sandbox", "--candles", str(two_hours), "--until-end"),
            *("--speed", "30000", "--role", "trading", *params),
            timeout=300,
        )
        assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
        return ran.stdout.replace("\n", " ")

    # Given the README's sandbox run (the trading part alone, to be quick), to the end of its
    # candles, with orders left resting
    first = run()
    assert "(opened)" in first and "finished: 120 candles processed" in first

    # When it is run again (a new sandbox)
    again = run()

    # Then the run is resumed on a sandbox restored from its log, with its orders
    assert "(resumed)" in again, again
    restored = re.search(r"restored from the run's log: .*? (\d+) orders placed", again)
    assert restored is not None and int(restored.group(1)) > 0, again
    # And both start-up reconciliations found nothing unexplained; trading stays ACTIVE
    listed = json.loads(cli("reconciliations", "list", "--json").stdout)
    starts = [r for r in listed["reconciliations"] if r["trigger"] == "start"]
    assert len(starts) == 2 and [r["unexplained"] for r in starts] == [0, 0], starts
    assert listed["trading_state"] == "ACTIVE"
    # And parity holds
    parity = cli("parity")
    assert parity.returncode == 0, parity.stdout + parity.stderr
