"""The sandbox `ledger run` starts ends with it, however `ledger run` ends (SIGTERM, SIGKILL)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from adapters.embedded.os_process import is_alive
from tests.sandbox_process import FIXTURE

# The parent does what `ledger run --exchange sandbox` does: start the sandbox through
# run_parts.sandbox_process, say where it is, and wait to be ended.
PARENT = """
import signal, sys
from decimal import Decimal
from pathlib import Path
from api.cli.run_parts import sandbox_process
with sandbox_process(Path(sys.argv[1]), 3000.0, Decimal(1000000)) as url:
    print(url, flush=True)
    signal.pause()
"""


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        if f"\nPPid:\t{pid}\n" in status:
            found.append(int(entry.name))
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_the_sandbox_child_dies_when_its_parent_is_terminated_or_killed() -> None:
    # Given two parents that each started a sandbox and wait (side by side: each takes seconds)
    signals = (signal.SIGTERM, signal.SIGKILL)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    parents = [
        subprocess.Popen(
            [sys.executable, "-c", PARENT, str(FIXTURE)], stdout=subprocess.PIPE, text=True, env=env
        )
        for _ in signals
    ]
    children: list[int] = []
    try:
        for parent in parents:
            assert parent.stdout is not None
            assert parent.stdout.readline().startswith("http://127.0.0.1:")
            found = _children(parent.pid)
            assert len(found) == 1, found
            children += found

        # When one parent is terminated (SIGTERM) and the other killed (SIGKILL)
        for parent, sig in zip(parents, signals, strict=True):
            os.kill(parent.pid, sig)
            parent.wait(timeout=30)

        # Then both children end too, within seconds
        deadline = time.monotonic() + 15
        while any(is_alive(c) for c in children) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [c for c in children if is_alive(c)] == [], "a sandbox outlived its parent"
    finally:
        for parent in parents:
            if parent.poll() is None:
                parent.kill()
        for child in children:
            if is_alive(child):
                os.kill(child, signal.SIGKILL)
