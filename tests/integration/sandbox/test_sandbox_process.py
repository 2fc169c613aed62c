"""`ledger sandbox` as a child process: started without waiting, then waited for."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.sandbox_exchange.process import SandboxStartError, started_sandbox
from tests.sandbox_process import FIXTURE


def test_a_sandbox_started_without_waiting_answers_once_ready_and_ends_with_its_block() -> None:
    with started_sandbox(FIXTURE, "--paced") as sandbox:
        url = sandbox.ready()
        assert url == sandbox.url and sandbox.process.poll() is None
    assert sandbox.process.poll() is not None  # stopped when the block ended


def test_a_sandbox_that_cannot_start_is_named_with_its_last_words(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-candles.csv.gz"
    with started_sandbox(missing) as sandbox, pytest.raises(SandboxStartError) as failure:
        sandbox.ready()
    assert "ledger sandbox did not start" in str(failure.value)
    assert "no-such-candles.csv.gz" in str(failure.value), failure.value
