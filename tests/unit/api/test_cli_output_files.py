"""A file a command writes (--json, --report, --out) is checked before the command runs: a
directory, a path under a file or an unwritable place exits 2 naming the flag and the path,
and nothing is written. A port out of range exits 2 naming it."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.cli.main import main

ROWS = [
    "ts_utc,open,high,low,close,volume",
    *(
        f"2023-03-09T00:{m:02d}:00Z,29018000.0,29023000.0,29015000.0,29021000.0,7.9"
        for m in range(5)
    ),
]


@pytest.fixture
def candles(tmp_path: Path) -> Path:
    path = tmp_path / "candles.csv"
    path.write_text("\n".join(ROWS) + "\n", encoding="utf-8")
    return path


def targets(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    directory = tmp_path / "out-dir"
    directory.mkdir()
    (tmp_path / "a-file").write_text("keep", encoding="utf-8")
    return {
        "a directory": (directory, "is a directory"),
        "under a file": (tmp_path / "a-file" / "out", f"{tmp_path / 'a-file'} is not a directory"),
        "unwritable": (Path("/proc/ledger-out"), "cannot be written"),
    }


@pytest.mark.parametrize("target", ["a directory", "under a file", "unwritable"])
@pytest.mark.parametrize("flag", ["--json", "--report"])
def test_a_backtest_output_that_cannot_be_written_exits_2_before_the_run_and_writes_nothing(
    tmp_path: Path, candles: Path, flag: str, target: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path, rule = targets(tmp_path)[target]
    before = sorted(p.name for p in tmp_path.rglob("*"))

    code = main(["backtest", "--candles", str(candles), flag, str(path)])

    out, err = capsys.readouterr()
    stderr = " ".join(err.split())
    assert code == 2, stderr
    assert f"{flag} {path} " in stderr and rule in stderr
    assert "replay hash" not in out  # refused before the run
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


@pytest.mark.parametrize("target", ["under a file", "unwritable"])
def test_an_audit_export_target_that_cannot_be_written_exits_2_before_opening_the_log(
    tmp_path: Path, target: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = targets(tmp_path)[target]
    data_dir = tmp_path / "data"

    code = main(["--data-dir", str(data_dir), "audit", "export", "--out", f"{path}.tar.gz"])

    stderr = " ".join(capsys.readouterr().err.split())
    assert code == 2, stderr
    assert f"{path}.tar.gz" in stderr or str(path.parent) in stderr
    assert not data_dir.exists()  # no server started, nothing written


def test_a_sandbox_port_out_of_range_exits_2_naming_it(
    candles: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["sandbox", "--candles", str(candles), "--port", "99999"])

    stderr = " ".join(capsys.readouterr().err.split())
    assert code == 2, stderr
    assert "--port" in stderr and "99999" in stderr


@pytest.mark.parametrize("command", [["run"], ["api"]])
def test_an_api_port_out_of_range_exits_2_naming_it(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "data"
    code = main(["--data-dir", str(data_dir), *command, "--port", "99999"])

    stderr = " ".join(capsys.readouterr().err.split())
    assert code == 2, stderr
    assert "--port" in stderr and "99999 is not a port" in stderr
    assert not data_dir.exists()  # no server started
