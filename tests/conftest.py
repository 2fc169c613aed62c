"""The whole suite's order: the longest tests first, so that `pytest -n auto` ends its workers
together.

xdist hands tests out in collection order (`make test` asks for two at a time per worker,
`--maxschedchunk 2`). Started first, the few tests of a minute or more overlap on the two
workers and the thousands of short ones fill the gaps; started last, or all queued on one
worker, they made one worker run alone for minutes (a fresh clone at 76201db: 1,125
worker-seconds of tests in 895 s of wall time on two workers). The files below are the
slowest measured (docs/benchmarks.md, "`make test`"), slowest first; the rest follow by tier,
end to end first.
"""

from __future__ import annotations

from pathlib import Path

import pytest

_HERE = Path(__file__).parent
SLOWEST_FIRST = tuple(
    _HERE / name
    for name in (
        "e2e/test_readme.py",
        "e2e/test_trading_faults.py",
        "e2e/test_trading_crash.py",
        "unit/commands/processes/test_exchange_run.py",
        "integration/backtest/test_real_candles.py",
        "unit/commands/test_properties.py",
        "e2e/test_trading_risk.py",
        "e2e/test_pipeline_crash.py",
        "unit/commands/processes/test_kill_points.py",
        "e2e/test_trading_services.py",
        "integration/sandbox/test_live_ingest.py",
        "integration/api/test_openapi_contract.py",
        "e2e/test_trading_sandbox.py",
    )
)
_TIERS = [_HERE / tier for tier in ("e2e", "integration", "unit")]


def _order(item: pytest.Item) -> tuple[int, int]:
    path = item.path
    slow = SLOWEST_FIRST.index(path) if path in SLOWEST_FIRST else len(SLOWEST_FIRST)
    tier = next((i for i, tier in enumerate(_TIERS) if tier in path.parents), len(_TIERS))
    return slow, tier


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=_order)  # stable: each file keeps its own order
