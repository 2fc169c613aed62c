"""The suite's order (tests/conftest.py) names test files that exist."""

from __future__ import annotations

from tests.conftest import SLOWEST_FIRST


def test_every_file_the_suite_starts_first_exists_and_is_named_once() -> None:
    assert [path for path in SLOWEST_FIRST if not path.is_file()] == []
    assert len(set(SLOWEST_FIRST)) == len(SLOWEST_FIRST)
