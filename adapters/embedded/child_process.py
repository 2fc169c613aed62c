"""Child processes that end with their parent, however it ends (Linux PR_SET_PDEATHSIG).

The parent starts the child with `child_env()`; the child calls `die_with_parent()` first
thing. The kernel then sends the child SIGTERM when the parent dies, by SIGKILL too, where a
`finally` in the parent never runs. The signal follows the parent *thread* that started the
child, so start children from the main thread. Elsewhere than Linux this is a no-op and the
parent's own clean-up (and `ledger services down`) is what stops the child.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PARENT_PID_ENV = "LEDGER_PARENT_PID"
"""The pid of the process the child must not outlive."""
_PR_SET_PDEATHSIG = 1


def child_env(parent_pid: int | None = None) -> dict[str, str]:
    """Return this process's environment, naming `parent_pid` (default: this process)."""
    return {**os.environ, PARENT_PID_ENV: str(parent_pid or os.getpid())}


def die_with_parent() -> bool:
    """Arrange SIGTERM for this process when its parent dies; return whether it was arranged.

    Does nothing unless the parent named itself in the environment (`child_env`). A parent
    that died before this call is noticed (the process was re-parented) and ends this one.
    """
    wanted = os.environ.pop(PARENT_PID_ENV, "")
    if not wanted.isdigit() or not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        return False
    if os.getppid() != int(wanted):
        os.kill(os.getpid(), signal.SIGTERM)  # the parent is gone already
    return True
