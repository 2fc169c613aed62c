"""Bad risk limit options exit 2 naming the flag, the value and the rule, before anything opens
or runs (so nothing is recorded): `ledger risk set`, `ledger backtest` and `ledger run`."""

from __future__ import annotations

import pytest

from api.cli.main import main
from tests.unit.commands.backtest.runs import MARCH

RULE = "must be a whole number of orders from 1 to 1,000,000"


@pytest.mark.parametrize("value", ["-3", "0", "2.5", "abc", "1000001"])
@pytest.mark.parametrize(
    "command",
    [
        ["risk", "set", "--reason", "throttle"],
        ["backtest", "--candles", str(MARCH)],
        ["run", "--exchange", "paper"],
    ],
    ids=["risk-set", "backtest", "run"],
)
def test_a_submit_rate_limit_not_a_whole_number_from_1_exits_2_naming_flag_value_and_rule(
    command: list[str], value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main([*command, "--max-orders-per-minute", value])

    stderr = " ".join(capsys.readouterr().err.split())
    assert code == 2, stderr
    assert f"--max-orders-per-minute '{value}' was refused: max orders per minute" in stderr
    assert RULE in stderr
