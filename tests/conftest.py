"""The whole suite: the slowest tier first, so that `pytest -n auto` ends its workers together.

xdist hands tests out in collection order. With the tiers in `testpaths` order (unit,
integration, e2e), the e2e tests, a few of which take minutes, came last and one worker ran
the tail alone; started first, the long tests overlap and the short ones fill the gaps.
"""

from __future__ import annotations

from pathlib import Path

import pytest

_TIERS = [Path(__file__).parent / tier for tier in ("e2e", "integration", "unit")]


def _tier(item: pytest.Item) -> int:
    return next((i for i, tier in enumerate(_TIERS) if tier in item.path.parents), len(_TIERS))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=_tier)  # stable: each tier keeps its own order
