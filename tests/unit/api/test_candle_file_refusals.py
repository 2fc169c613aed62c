"""Candle files are read by one set of rules in `ledger import`, `backtest`, `sandbox` and `run
--exchange sandbox`: a
file with an extra column, candles of another interval than 1 minute, or a non-KRW file (by
its name or its prices) is refused, exit 2, naming the file, the rule and the flag that would
override it, before anything is written or served."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from api.cli.main import main

HEADER = "ts_utc,open,high,low,close,volume"
ONE_MINUTE = [f"2023-03-09T00:{m:02d}:00Z" for m in range(6)]
ONE_DAY = [f"2023-03-{d:02d}T00:00:00Z" for d in range(1, 7)]
KRW = "29018000.0,29023000.0,29015000.0,29021000.0,7.9"
USDT = "21950.1,21960.0,21940.5,21955.2,7.9"


def write(tmp_path: Path, name: str, header: str, times: list[str], values: str) -> Path:
    path = tmp_path / name
    path.write_text("\n".join([header, *(f"{t},{values}" for t in times)]) + "\n", "utf-8")
    return path


CASES: dict[str, tuple[Callable[[Path], Path], list[str]]] = {
    "an extra column in the header": (
        lambda d: write(d, "extra.csv", HEADER + ",trades", ONE_MINUTE, KRW + ",7"),
        ["extra.csv:1: header 'ts_utc,open,high,low,close,volume,trades' must be"],
    ),
    "an extra column in the rows": (
        lambda d: write(d, "extra-rows.csv", HEADER + ",value", ONE_MINUTE, KRW + ",100.5,7"),
        ["extra-rows.csv:2: 8 columns, the header has 7"],
    ),
    "daily candles": (
        lambda d: write(d, "upbit-KRW-BTC-1d.csv", HEADER, ONE_DAY, KRW),
        ["holds 1-day candles", "the most common step between its rows is 1,440 minutes"],
    ),
    "a USDT file by its name": (
        lambda d: write(d, "binance-BTCUSDT-1m.csv", HEADER, ONE_MINUTE, KRW),
        ["binance-BTCUSDT-1m.csv", "its name says 'usdt'", "--allow-non-krw"],
    ),
    "a USDT file by its prices": (
        lambda d: write(d, "candles.csv", HEADER, ONE_MINUTE, USDT),
        ["median close 21,955.2", "is not a KRW-BTC price", "--allow-non-krw"],
    ),
}

# Should a file pass, `import` finds no database and `sandbox` refuses its port: no test ever
# starts a server.
NO_DATABASE = "postgresql://127.0.0.1:1/none"
COMMANDS: dict[str, Callable[[Path], list[str]]] = {
    "import": lambda path: ["--database-url", NO_DATABASE, "import", str(path)],
    "backtest": lambda path: ["backtest", "--candles", str(path)],
    "sandbox": lambda path: ["sandbox", "--candles", str(path), "--port", "99999"],
    "run": lambda path: ["run", "--exchange", "sandbox", "--until-end", "--candles", str(path)],
}


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("case", list(CASES))
def test_a_candle_file_breaking_a_rule_is_refused_alike_by_every_command(
    tmp_path: Path, case: str, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a candle file breaking one rule, and a data dir nothing has touched
    make, expected = CASES[case]
    path = make(tmp_path)
    data_dir = tmp_path / "data"
    # When a command reads it
    code = main(["--data-dir", str(data_dir), *COMMANDS[command](path)])
    # Then it exits 2 naming the file and the rule, before any server starts or anything runs
    out, err = capsys.readouterr()
    stderr = " ".join(err.split())
    assert code == 2, stderr
    for text in expected:
        assert text in stderr
    assert not data_dir.exists()
    assert "replay hash" not in out


def test_a_usdt_file_is_read_as_krw_when_the_flag_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "binance-BTCUSDT-1m.csv", HEADER, ONE_MINUTE, USDT)

    code = main(["backtest", "--candles", str(path), "--allow-non-krw"])

    out, err = capsys.readouterr()
    assert code == 0, err
    assert "replay hash" in out


def test_a_sandbox_run_on_a_usdt_file_without_candles_or_exchange_says_the_flag_is_misplaced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "data"

    code = main(["--data-dir", str(data_dir), "run", "--allow-non-krw"])

    stderr = " ".join(capsys.readouterr().err.split())
    assert code == 2, stderr
    assert "--candles, --until-end and --allow-non-krw are for --exchange sandbox" in stderr
    assert not data_dir.exists()
