"""Bad input at the CLI: a clear message naming the value and the rule, exit code 2, and
not one event appended.

Most cases run `ledger` in this process (`Cli.inline`: the same entry point, arguments and
environment, without an interpreter's start-up each); a refused order and a broken config
file go through the real executable, as does the funded account's allocation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import Cli, new_cli


@pytest.fixture(scope="module")
def funded(e2e_data_dir: Path) -> Cli:
    """One funded account for the module: each test compares the log before and after its own
    command, so refusals can share it (a `ledger` process costs a second or two)."""
    cli = new_cli(e2e_data_dir)
    result = cli("capital", "allocate", "--strategy", "manual", "--amount", "1000000")
    assert result.returncode == 0, result.stderr
    return cli


def place(cli: Cli, *args: str) -> tuple[int, str]:
    result = cli("order", "place", "--strategy", "manual", *args)
    return result.returncode, result.stderr


def test_the_executable_refuses_an_order_for_an_untraded_market_and_appends_nothing(
    funded: Cli,
) -> None:
    # Given an account with capital
    before = funded.event_count()
    # When the real `ledger` is asked to place an order on a market that is not traded
    args = ("--side", "bid", "--type", "limit", "--market", "KRW-DOGE")
    code, stderr = place(funded, *args, "--price", "50000000", "--volume", "0.001")
    # Then it names the value and the rule, exits 2, and the log is unchanged
    assert code == 2, stderr
    assert "market 'KRW-DOGE' is not traded" in stderr.replace("\n", " ")
    assert funded.event_count() == before


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            (
                "--side",
                "bid",
                "--type",
                "limit",
                "--market",
                "BTC",
                "--price",
                "50000000",
                "--volume",
                "0.001",
            ),
            "market 'BTC' is not an Upbit market code",
        ),
        (
            ("--side", "bid", "--type", "limit", "--price", "-50000000", "--volume", "0.001"),
            "limit price -50000000 KRW must be greater than 0",
        ),
        (
            ("--side", "bid", "--type", "limit", "--price", "50000000", "--volume", "0"),
            "volume 0 BTC must be greater than 0",
        ),
        (
            ("--side", "bid", "--type", "market", "--amount", "-10000"),
            "amount -10000 KRW must be greater than 0",
        ),
        (
            ("--side", "bid", "--type", "limit", "--price", "50000500", "--volume", "0.001"),
            "is not a multiple of the tick size 1,000 KRW",
        ),
        (
            ("--side", "bid", "--type", "limit", "--price", "50000000", "--volume", "0.00009"),
            "below the minimum 5,000 KRW",
        ),
        (
            ("--side", "bid", "--type", "market", "--amount", "4999"),
            "order total 4,999 KRW (the KRW amount) is below the minimum 5,000 KRW",
        ),
        (
            ("--side", "bid", "--type", "limit", "--price", "abc", "--volume", "0.001"),
            "limit price 'abc' is not a decimal number",
        ),
        (
            ("--side", "sideways", "--type", "limit", "--price", "50000000", "--volume", "0.001"),
            "order side 'sideways' is not one of: bid, ask",
        ),
        (
            ("--side", "bid", "--type", "limit", "--price", "2e7", "--volume", "0.001"),
            "limit price '2e7' is not a decimal number written plainly",
        ),
    ],
)
def test_order_place_with_bad_input_exits_2_and_appends_nothing(
    funded: Cli, args: tuple[str, ...], expected: str
) -> None:
    # Given an account with capital
    before = funded.event_count()
    # When an order with a bad value is placed
    code, stderr = place(funded.inline(), *args)
    # Then the CLI names the value and the rule, exits 2, and the log is unchanged
    assert code == 2, stderr
    assert expected in stderr.replace("\n", " ")
    assert funded.event_count() == before


def test_order_cancel_of_an_unknown_order_id_exits_2(funded: Cli) -> None:
    before = funded.event_count()
    result = funded.inline()(
        "order", "cancel", "3f2a8a47-0c1d-4bfb-9b7e-4a6f3c3c6a01", "--reason", "x"
    )
    assert result.returncode == 2
    assert "order 3f2a8a47-0c1d-4bfb-9b7e-4a6f3c3c6a01 does not exist" in result.stderr
    assert funded.event_count() == before


def test_order_illegal_transition_exits_2_and_appends_nothing(funded: Cli) -> None:
    # Given a NEW order
    ledger = funded.inline()
    placed = ledger(
        "order",
        "place",
        "--strategy",
        "manual",
        "--side",
        "bid",
        "--type",
        "limit",
        "--price",
        "50000000",
        "--volume",
        "0.001",
        "--json",
    )
    assert placed.returncode == 0, placed.stderr
    order_id = json.loads(placed.stdout)["order_id"]
    before = funded.event_count()
    # When it is filled before the exchange accepted it
    result = ledger(
        "order", "fill", order_id, "--trade-id", "t1", "--price", "50000000", "--volume", "0.001"
    )
    # Then the state machine refuses, naming the status and the trigger
    assert result.returncode == 2
    assert "an order in status NEW cannot fill partially or fill completely" in result.stderr
    assert funded.event_count() == before


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"LEDGER_DATABASE__POOL_SIZE": "abc"}, "setting database.pool_size = 'abc' is invalid"),
        ({"LEDGER_API__PORT": "70000"}, "setting api.port = '70000' is invalid"),
        ({"LEDGER_TRADING__FEE_RATE": "-0.1"}, "setting trading.fee_rate = '-0.1' is invalid"),
        ({"LEDGER_API__TOKEN": "changeme"}, "setting api.token = (hidden) is invalid"),
    ],
)
def test_malformed_config_value_exits_2_and_names_the_setting(
    funded: Cli, env: dict[str, str], expected: str
) -> None:
    before = funded.event_count()
    result = funded.inline()(
        "capital", "allocate", "--strategy", "manual", "--amount", "5000", extra_env=env
    )
    assert result.returncode == 2
    assert expected in result.stderr
    assert "changeme" not in result.stderr  # a secret is never echoed
    assert funded.event_count() == before


def test_malformed_config_file_exits_2_and_names_the_file(cli: Cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "ledger.toml"
    config.write_text("[database\npool_size = 3\n")
    result = cli("--config", str(config), "show-config")
    assert result.returncode == 2
    assert f"config file {config} is not valid TOML" in result.stderr.replace("\n", "")


def test_unknown_setting_in_config_file_exits_2(cli: Cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "ledger.toml"
    config.write_text("[database]\npol_size = 3\n")
    result = cli.inline()("--config", str(config), "show-config")
    assert result.returncode == 2
    assert "unknown setting 'database.pol_size'" in result.stderr
