"""`ledger import`: candles into the event log once; bad files and conflicts change nothing.

The first import goes through the real executable; the other commands run `ledger` in this
process (`Cli.inline`, the same entry point)."""

from __future__ import annotations

import gzip
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tests.e2e.conftest import Cli

FIXTURE = (
    Path(__file__).resolve().parents[1]
    / "fixtures"
    / "candles"
    / "upbit-KRW-BTC-1m-2023-03-09_2023-03-16.csv.gz"
)


def excerpt(tmp_path: Path, lines: int, *, change: tuple[int, str, str] | None = None) -> Path:
    """Write the first `lines` rows of the fixture; `change` = (row, old, new) text ('$' old:
    append `new` to the row)."""
    with gzip.open(FIXTURE, "rt") as handle:
        rows = handle.read().splitlines()[: lines + 1]
    if change is not None:
        index, old, new = change
        rows[index] = rows[index] + new if old == "$" else rows[index].replace(old, new)
    path = tmp_path / f"candles-{lines}{'-changed' if change else ''}.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def table_rows(cli: Cli) -> int:
    url = cli.postgres_url()
    with psycopg.connect(url) as conn:
        regclass = conn.execute("SELECT to_regclass(%s)", (f"{cli.schema}.candles",)).fetchone()
        if not regclass or regclass[0] is None:
            return 0
        row = conn.execute(
            sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(cli.schema, "candles"))
        ).fetchone()
        return int(row[0]) if row else 0


def test_import_records_candles_once_and_a_second_import_appends_nothing(
    cli: Cli, tmp_path: Path
) -> None:
    path = excerpt(tmp_path, 180)
    first = cli("import", str(path), "--market", "KRW-BTC")
    assert first.returncode == 0, first.stderr
    assert "180 candles recorded" in first.stdout and "3 new hours" in first.stdout
    events, rows = cli.event_count(), table_rows(cli)
    assert rows == 180
    again = cli.inline()("import", str(path))
    assert again.returncode == 0, again.stderr
    assert "0 candles recorded, 180 already recorded" in again.stdout
    assert (cli.event_count(), table_rows(cli)) == (events, rows)


def test_import_of_a_malformed_file_names_the_line_and_imports_nothing(
    cli: Cli, tmp_path: Path
) -> None:
    path = excerpt(tmp_path, 50, change=(30, ",", ",x"))
    before = cli.event_count()
    result = cli.inline()("import", str(path))
    assert result.returncode == 2
    assert f"{path}:31:" in result.stderr.replace("\n", "")
    assert cli.event_count() == before and table_rows(cli) == 0


def test_import_of_a_differing_candle_is_refused_with_a_report_unless_corrections_are_allowed(
    cli: Cli, tmp_path: Path
) -> None:
    ledger = cli.inline()
    assert ledger("import", str(excerpt(tmp_path, 60))).returncode == 0
    events, rows = cli.event_count(), table_rows(cli)
    changed = excerpt(tmp_path, 60, change=(10, "$", "1"))  # the 00:09 volume gains a digit
    refused = ledger("import", str(changed))
    assert refused.returncode == 2
    assert "candle 2023-03-09T00:09:00+00:00 is recorded as" in refused.stderr.replace("\n", "")
    assert f"ledger import {changed} --allow-corrections" in refused.stderr.replace("\n", "")
    assert (cli.event_count(), table_rows(cli)) == (events, rows)
    corrected = ledger("import", str(changed), "--allow-corrections")
    assert corrected.returncode == 0, corrected.stderr
    assert "1 corrected" in corrected.stdout
    assert cli.event_count() == events + 1


@pytest.mark.parametrize("market", ["KRW-DOGE", "BTC"])
def test_import_for_an_unknown_market_exits_2(cli: Cli, tmp_path: Path, market: str) -> None:
    result = cli.inline()("import", str(excerpt(tmp_path, 5)), "--market", market)
    assert result.returncode == 2
    assert f"market {market!r}" in result.stderr


def test_backtest_from_the_log_matches_the_backtest_of_the_file(cli: Cli, tmp_path: Path) -> None:
    # Given three days of candles imported into the log
    path = excerpt(tmp_path, 3 * 1440)
    ledger = cli.inline()
    assert ledger("import", str(path)).returncode == 0
    # When the same window is backtested from the file and from the log
    from_file = ledger("backtest", "--candles", str(path), "--from", "2023-03-09T06:00Z")
    from_log = ledger(
        "backtest", "--from-log", "--market", "KRW-BTC", "--from", "2023-03-09T06:00Z"
    )
    # Then the results and the replay hash are the same
    assert from_file.returncode == 0 and from_log.returncode == 0, from_log.stderr
    assert from_file.stdout == from_log.stdout
    assert "replay hash" in from_log.stdout


def test_backtest_from_an_empty_log_explains_and_exits_2(cli: Cli) -> None:
    result = cli.inline()("backtest", "--from-log", "--market", "KRW-BTC")
    assert result.returncode == 2
    assert "no KRW-BTC candles are recorded in the event log" in result.stderr
