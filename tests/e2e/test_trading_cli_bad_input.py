"""Bad input to `ledger run` and `ledger parity`: exit 2, the value and the rule named, and
nothing started or appended.

Most cases run `ledger` in this process (`Cli.inline`); an unknown exchange and a placeholder
key go through the real executable."""

from __future__ import annotations

import pytest

from api.cli.trading_run import status_path
from tests.e2e.conftest import Cli


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--exchange", "upbit"), "needs both --exchange upbit and --live"),
        (("--live",), "--exchange paper was given with --live"),
        (("--exchange", "sandbox"), "--exchange sandbox needs --candles FILE or --exchange-url"),
        (("--until-end",), "--candles, --until-end and --allow-non-krw are for --exchange sandbox"),
        (
            ("--exchange", "sandbox", "--exchange-url", "http://127.0.0.1:9", "--speed", "0"),
            "--speed 0.0 must be in (0, 1000000]",
        ),
        (("--strategies", "momentum"), "unknown strategy 'momentum'"),
        (("--param", "grid.levels=1"), "grid.levels 1 must be at least 2"),
        (("--capital", "-5"), "--capital '-5' must be a positive amount of KRW"),
        (("--daily-loss-krw", "-5"), "--daily-loss-krw '-5' was refused"),
        (("--max-drawdown", "1.5"), "--max-drawdown '1.5' was refused"),
        (
            ("--exchange", "upbit", "--live"),
            "live trading needs a real Upbit access key in LEDGER_UPBIT__ACCESS_KEY",
        ),
    ],
)
def test_run_with_bad_options_exits_2_naming_the_value_and_starts_nothing(
    cli: Cli, args: tuple[str, ...], expected: str
) -> None:
    result = cli.inline()("run", *args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert expected in " ".join(result.stderr.split()), result.stderr
    assert not status_path(cli.data_dir, cli.env["LEDGER_ENV"]).exists()


def test_the_executable_refuses_an_unknown_exchange_and_starts_nothing(cli: Cli) -> None:
    result = cli("run", "--exchange", "bitmex")
    assert result.returncode == 2, result.stdout + result.stderr
    expected = "--exchange 'bitmex' is not one of: paper, sandbox, upbit"
    assert expected in " ".join(result.stderr.split()), result.stderr
    assert not status_path(cli.data_dir, cli.env["LEDGER_ENV"]).exists()


def test_live_trading_refuses_a_placeholder_key(cli: Cli) -> None:
    keys = {"LEDGER_UPBIT__ACCESS_KEY": "changeme", "LEDGER_UPBIT__SECRET_KEY": "changeme"}
    result = cli("run", "--exchange", "upbit", "--live", extra_env=keys)
    assert result.returncode == 2, result.stderr
    assert "none, a placeholder or a sandbox key was found" in " ".join(result.stderr.split())
    assert "changeme" not in result.stderr  # a secret is never printed


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--from", "yesterday"), "--from 'yesterday' is not an ISO 8601 time or date"),
        (("--from", "2023-03-12", "--to", "2023-03-10"), "--to 2023-03-10 must be after --from"),
        ((), "the log holds no trading run (see `ledger run`)"),
        (("--run", "nope"), "the log holds no trading run named nope"),
    ],
)
def test_parity_with_bad_options_or_no_run_exits_2_naming_it(
    cli: Cli, args: tuple[str, ...], expected: str
) -> None:
    before = cli.event_count()
    result = cli.inline()("parity", *args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert expected in " ".join(result.stderr.split()), result.stderr
    assert cli.event_count() == before


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ("reconciliations", "acknowledge", "nope", "--reason", "x"),
            "reconciliation id 'nope' is not a UUID",
        ),
        (
            (
                "reconciliations",
                "acknowledge",
                "00000000-0000-0000-0000-000000000007",
                "--reason",
                "x",
            ),
            "reconciliation 00000000-0000-0000-0000-000000000007 does not exist",
        ),
        (("reconcile",), "no trading run on an exchange is in the log"),
        (("reconcile", "--run-id", "nope"), "no trading run 'nope' is recorded"),
    ],
)
def test_reconciliation_commands_with_bad_input_exit_2_naming_it_and_record_nothing(
    cli: Cli, args: tuple[str, ...], expected: str
) -> None:
    before = cli.event_count()
    result = cli.inline()(*args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert expected in " ".join(result.stderr.split()), result.stderr
    assert cli.event_count() == before
