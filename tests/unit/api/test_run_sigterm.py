"""SIGTERM ends `ledger run` as Ctrl-C does: its clean-up (the sandbox child, the pipeline) runs."""

from __future__ import annotations

import os
import signal
from contextlib import ExitStack

import pytest

from api.cli.run_parts import end_cleanly_on_sigterm


def test_sigterm_unwinds_the_run_stack_and_restores_the_old_handler() -> None:
    # Given a run's stack of clean-ups, with SIGTERM made to unwind it
    previous = signal.getsignal(signal.SIGTERM)
    cleaned: list[str] = []

    # When the process receives SIGTERM
    with pytest.raises(SystemExit) as ended, ExitStack() as stack:
        stack.callback(cleaned.append, "sandbox stopped")
        end_cleanly_on_sigterm(stack)
        os.kill(os.getpid(), signal.SIGTERM)

    # Then the clean-up ran, the exit code is 128 + SIGTERM, and the old handler is back
    assert cleaned == ["sandbox stopped"]
    assert ended.value.code == 128 + signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) == previous
