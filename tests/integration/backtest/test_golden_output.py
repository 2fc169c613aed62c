"""`ledger backtest --json` on the real 8 months, byte for byte as before the write-side rebuild.

The digests are those of the output of 676d748 (before issue 18 changed `commands/`), the
default run and one with every risk limit and fill-model option: every trade, metric and the
replay hash. A change of the engine, the ledger or the report that moves one byte fails here.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from api.cli.main import main

SHARED = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "market"
EIGHT_MONTHS = SHARED / "upbit-KRW-BTC-1m-2023-01_2023-08.csv.gz"
RISK_FLAGS = (
    "--max-order-krw", "2000000", "--daily-loss-krw", "300000", "--max-drawdown", "0.1",
    "--max-orders-per-minute", "5", "--slippage-bps", "5", "--max-participation", "0.5",
)  # fmt: skip
BEFORE = {
    "default": "c142bcd337c584449c181765d83a8cd4e4b1460e8cf54d0b7484445183ee8210",
    "risk-limited": "3b3cb6c847356f4f2473f83a3f43d9a9365fb177b205db02e241067190e40429",
}


@pytest.mark.skipif(not EIGHT_MONTHS.exists(), reason=f"{EIGHT_MONTHS} is not on this machine")
@pytest.mark.parametrize(("run", "flags"), [("default", ()), ("risk-limited", RISK_FLAGS)])
def test_the_eight_month_backtest_prints_the_same_bytes_as_before_the_rebuild(
    run: str, flags: tuple[str, ...], tmp_path: Path
) -> None:
    out = tmp_path / "backtest.json"

    code = main(["backtest", "--candles", str(EIGHT_MONTHS), "--json", str(out), *flags])

    assert code == 0
    assert hashlib.sha256(out.read_bytes()).hexdigest() == BEFORE[run]
