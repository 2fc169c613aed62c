"""`ledger backtest` from the command line: results, determinism and refused input (exit 2).

Refused input, the report and the persisted run go through `ledger` in this process
(`inline`, the same entry point); the printed results, a second process's hash and the risk
limits through the real executable."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from tests.e2e.conftest import LEDGER, Cli, run_in_process

HEADER = "ts_utc,open,high,low,close,volume,value\n"


def rows(count: int, start_hour: int = 0) -> str:
    lines = []
    for i in range(count):
        minute = start_hour * 60 + i
        price = 50_000_000 + (i % 7) * 1000
        lines.append(
            f"2023-01-01T{minute // 60:02d}:{minute % 60:02d}:00Z,{price}.0,"
            f"{price + 5000}.0,{price - 5000}.0,{price}.0,0.5,{price // 2}.0\n"
        )
    return "".join(lines)


def backtest(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LEDGER, "backtest", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        timeout=120,
        check=False,
    )


def inline(*args: str) -> subprocess.CompletedProcess[str]:
    """`ledger backtest ARGS` run in this process."""
    return run_in_process(["backtest", *args])


@pytest.fixture
def csv_file(tmp_path: Path) -> Path:
    path = tmp_path / "candles.csv"
    path.write_text(HEADER + rows(120), encoding="utf-8")
    return path


def test_backtest_prints_a_table_and_writes_json_with_the_replay_hash(
    csv_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "result.json"
    result = backtest("--candles", str(csv_file), "--json", str(out))
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    assert report["candles"] == 120
    assert set(report["strategies"]) == {"volatility_breakout", "grid", "turtle"}
    assert f"replay hash {report['replay_hash']}" in result.stdout
    for section in report["strategies"].values():
        assert {
            "fills",
            "round_trips",
            "final_cash",
            "final_qty_btc",
            "final_equity",
            "fees_krw",
            "metrics",
            "trades",
        } <= set(section)


def test_backtest_twice_on_the_same_file_prints_the_same_hash(csv_file: Path) -> None:
    # Two processes (the executable and this one), each with its own hash seed
    first, second = backtest("--candles", str(csv_file)), inline("--candles", str(csv_file))
    hashes = [
        line
        for r in (first, second)
        for line in r.stdout.splitlines()
        if line.startswith("replay hash")
    ]
    assert len(hashes) == 2 and hashes[0] == hashes[1]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            HEADER + rows(3) + "2023-01-01T00:03:00Z,50000000.0,abc,1.0,1.0,1.0,1.0\n",
            ":5:3: high 'abc' is not a number",
        ),
        (
            HEADER + rows(3) + "2023-01-01T00:01:00Z,1.0,1.0,1.0,1.0,1.0,1.0\n",
            ":5: unsorted minute 2023-01-01T00:01:00Z",
        ),
        (
            HEADER + rows(3) + "2023-01-01T00:02:00Z,1.0,1.0,1.0,1.0,1.0,1.0\n",
            ":5: duplicate minute 2023-01-01T00:02:00Z",
        ),
        ("time,o,h,l,c\n", ":1: header"),
        (HEADER + "2023-01-01 00:00:00,1,1,1,1,1,1\n", ":2:1: ts_utc"),
    ],
)
def test_backtest_with_a_malformed_csv_names_file_line_and_column_and_exits_2(
    tmp_path: Path, content: str, expected: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content, encoding="utf-8")
    result = inline("--candles", str(path))
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"{path}{expected}" in result.stderr.replace("\n", "")
    assert "replay hash" not in result.stdout


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--strategies", "momentum"), "unknown strategy 'momentum'"),
        (("--param", "grid.step=3"), "grid has no parameter 'step'"),
        (
            ("--param", "grid.lower=60000000", "--param", "grid.upper=50000000"),
            "grid.lower 60000000 must be > 0 and below upper 50000000",
        ),
        (("--param", "grid.levels=1"), "grid.levels 1 must be at least 2"),
        (("--fee-rate", "-0.001"), "fee rate -0.001 must not be negative"),
        (("--param", "turtle"), "must be STRATEGY.NAME=VALUE"),
        (("--from", "yesterday"), "--from 'yesterday' is not an ISO 8601 time"),
        (("--capital", "0"), "capital 0 KRW must be greater than 0"),
        (
            ("--max-drawdown", "1.5"),
            "--max-drawdown '1.5' was refused: max drawdown 1.5 must be a fraction in (0, 1]",
        ),
        (
            ("--daily-loss-krw", "-300000"),
            "--daily-loss-krw '-300000' was refused: daily loss limit -300000 KRW must be "
            "greater than 0",
        ),
        (
            ("--max-order-krw", "lots"),
            "--max-order-krw 'lots' was refused: max order notional 'lots' is not a decimal",
        ),
        (
            ("--max-exposure-krw", "0"),
            "--max-exposure-krw '0' was refused: max exposure 0 KRW must be greater than 0",
        ),
    ],
)
def test_backtest_with_bad_options_explains_and_exits_2(
    csv_file: Path, args: tuple[str, ...], expected: str
) -> None:
    result = inline("--candles", str(csv_file), *args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert expected in " ".join(result.stderr.split())
    assert "replay hash" not in result.stdout  # nothing was run


def test_backtest_of_a_missing_file_exits_2(tmp_path: Path) -> None:
    result = inline("--candles", str(tmp_path / "none.csv"))
    assert result.returncode == 2
    assert "does not exist" in result.stderr


def test_backtest_report_is_one_self_contained_html_file_with_charts(
    csv_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "report.html"
    result = inline("--candles", str(csv_file), "--report", str(out))
    assert result.returncode == 0, result.stderr
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>")
    for name in ("volatility_breakout", "grid", "turtle", "portfolio"):
        assert f"<h2>{name}</h2>" in page
    assert page.count("<svg") == 12  # price, equity and drawdown for 3 strategies + portfolio
    assert "<script" not in page and "http" not in page.replace("http://www.w3", "")


def test_backtest_persist_writes_the_run_to_the_event_log_once(cli: Cli, csv_file: Path) -> None:
    # Given an empty event log (the e2e data dir's PostgreSQL, a fresh schema)
    before = cli.event_count()
    # When a backtest is persisted
    ledger = cli.inline()
    first = ledger("backtest", "--candles", str(csv_file), "--persist")
    # Then its events are in the log, after the file's candles (its inputs, for a replay)
    assert first.returncode == 0, first.stderr
    copied = int(first.stdout.split("persisted ")[1].split(" events")[0].replace(",", ""))
    assert "candles of the run in the event log" in first.stdout
    after = cli.event_count()
    assert copied > 0 and after > before + copied
    # And the same run persisted again is refused, appending nothing
    again = ledger("backtest", "--candles", str(csv_file), "--persist")
    assert again.returncode == 2
    assert "already in the event log" in again.stderr
    assert cli.event_count() == after


FIXTURE = (
    Path(__file__).parents[1] / "fixtures/candles/upbit-KRW-BTC-1m-2023-03-09_2023-03-16.csv.gz"
)


def test_backtest_with_risk_limits_reports_when_each_fired_and_the_state_at_the_end(
    tmp_path: Path,
) -> None:
    # Given 8 days of real candles and a 2 % drawdown limit
    out, page = tmp_path / "result.json", tmp_path / "report.html"
    result = backtest(
        "--candles", str(FIXTURE), "--max-drawdown", "0.02", "--json", str(out),
        "--report", str(page),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    # Then the JSON lists the one time the limit fired: the candle in UTC and KST, the
    # figures and the action, then the state changes and the state at the end
    report = json.loads(out.read_text())
    risk = report["risk"]
    [fired] = risk["fired"]
    assert (fired["limit"], fired["action"], fired["threshold"]) == ("drawdown", "reduce", "0.02")
    assert Decimal(fired["measured"]) >= Decimal("0.02")
    utc = datetime.fromisoformat(fired["candle_open_utc"])
    kst = datetime.fromisoformat(fired["candle_open_kst"])
    assert utc == kst and kst.utcoffset() == timedelta(hours=9)
    assert [c["to_state"] for c in risk["state_changes"]] == ["REDUCING", "HALTED"]
    assert risk["final_state"] == "HALTED" and risk["limits"]["max_drawdown"] == "0.02"
    assert report["portfolio"]["denials"] == sum(
        s["denials"] for s in report["strategies"].values()
    )
    # And the terminal says the same
    text = " ".join(result.stdout.split())
    assert "risk limits: max_drawdown 2.0000 %" in text
    assert (
        f"limit fired at the candle of {utc:%Y-%m-%d %H:%M} UTC ({kst:%Y-%m-%d %H:%M} KST): "
        "drawdown"
    ) in text
    assert "-> reduce" in text and "trading state at the end: HALTED" in text
    assert "a backtest never resumes trading" in text
    # And so has the HTML report
    html = page.read_text(encoding="utf-8")
    assert "<h2>Risk</h2>" in html and f"{utc:%Y-%m-%d %H:%M} UTC" in html and "HALTED" in html
