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
from adapters.embedded.services import EmbeddedServices
from tests.sandbox_process import FIXTURE

# The parent does what `ledger run --exchange sandbox` does: register itself and start the
# sandbox through run_parts.sandbox_process (registered too, for `ledger services down`), say
# where it is, and wait to be ended.
PARENT = """
import os, signal, sys
from decimal import Decimal
from pathlib import Path
from adapters.embedded.services import EmbeddedServices
from api.cli.run_parts import checked_sandbox_candles, sandbox_process
services = EmbeddedServices(Path(sys.argv[2]))
services.register_process("ledger-run", os.getpid())
register = lambda pid: services.register_process("ledger-sandbox", pid)
candles = checked_sandbox_candles(Path(sys.argv[1]), is_non_krw_allowed=False)
with sandbox_process(candles, 3000.0, Decimal(1000000), on_started=register) as url:
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
def test_the_sandbox_child_dies_when_its_parent_is_stopped_by_services_down_or_killed(
    tmp_path: Path,
) -> None:
    # Given two parents that each started a sandbox and wait (side by side: each takes seconds)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    data_dirs = [tmp_path / "terminated", tmp_path / "killed"]
    parents = [
        subprocess.Popen(
            [sys.executable, "-c", PARENT, str(FIXTURE), str(data_dir)],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for data_dir in data_dirs
    ]
    children: list[int] = []
    try:
        for parent in parents:
            assert parent.stdout is not None
            assert parent.stdout.readline().startswith("http://127.0.0.1:")
            found = _children(parent.pid)
            assert len(found) == 1, found
            children += found

        # When `ledger services down` ends the one (SIGTERM) and the other is SIGKILLed
        report = EmbeddedServices(data_dirs[0]).down()
        os.kill(parents[1].pid, signal.SIGKILL)
        for parent in parents:
            parent.wait(timeout=30)

        # Then both children end too, within seconds
        deadline = time.monotonic() + 15
        while any(is_alive(c) for c in children) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [c for c in children if is_alive(c)] == [], "a sandbox outlived its parent"
        # And `down` ended the run cleanly, and found its sandbox gone or stopped it
        actions = {p.name: p.action for p in report.processes}
        assert actions["ledger-run"] == "stopped", actions
        assert actions["ledger-sandbox"] in ("gone", "stopped"), actions
    finally:
        for parent in parents:
            if parent.poll() is None:
                parent.kill()
        for child in children:
            if is_alive(child):
                os.kill(child, signal.SIGKILL)
