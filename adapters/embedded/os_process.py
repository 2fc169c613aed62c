"""OS processes addressed by pid: liveness, identity (command line, start time), termination."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

from adapters.embedded.errors import ServerStopError

_PROC = Path("/proc")
_KILL_GRACE_S = 5.0


def is_alive(pid: int) -> bool:
    """Return whether `pid` is a live process; a zombie counts as gone."""
    if pid <= 0:
        return False
    _reap_if_child(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, but owned by another user
    return _stat_fields(pid)[:1] != ["Z"]


def command_args(pid: int) -> list[str]:
    """Return the arguments `pid` was started with ([] if it is gone).

    Without /proc (macOS) the whole command comes back as one string from ps.
    """
    if not _PROC.is_dir():
        command = _ps(pid, "command=")
        return [command] if command else []
    try:
        raw = (_PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return []
    return [arg.decode(errors="replace") for arg in raw.split(b"\0") if arg]


def runs_with(pid: int, program: str, argument: str) -> bool:
    """Return whether `pid` runs the executable named `program` with `argument` as one argument.

    This tells our server from an unrelated process that reused a pid from a stale pid file.
    """
    args = command_args(pid)
    if len(args) == 1 and not _PROC.is_dir():
        return program in args[0] and argument in args[0]
    return bool(args) and Path(args[0]).name == program and argument in args[1:]


def start_time(pid: int) -> str:
    """Return an opaque start-time token of `pid`, to tell it from a later process reusing it."""
    fields = _stat_fields(pid)
    if fields:
        return fields[19]  # field 22 of /proc/<pid>/stat: start time in clock ticks since boot
    return _ps(pid, "lstart=")


def wait_for_exit(pid: int, timeout_s: float) -> bool:
    """Wait up to `timeout_s` for `pid` to end; return whether it did."""
    deadline = time.monotonic() + timeout_s
    while is_alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


def terminate(pid: int, *, timeout_s: float, sig: signal.Signals = signal.SIGTERM) -> bool:
    """Send `sig`, wait up to `timeout_s`, then SIGKILL; return True if `sig` alone was enough.

    Raises:
        ServerStopError: the process survived SIGKILL (uninterruptible sleep, or not ours).
    """
    if not _signal(pid, sig) or wait_for_exit(pid, timeout_s):
        return True
    _signal(pid, signal.SIGKILL)
    if wait_for_exit(pid, _KILL_GRACE_S):
        return False
    raise ServerStopError(f"process {pid} ({' '.join(command_args(pid))}) survived SIGKILL")


def _signal(pid: int, sig: signal.Signals) -> bool:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return False
    return True


def _reap_if_child(pid: int) -> None:
    # A server this process spawned stays a zombie until its parent waits for it.
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _stat_fields(pid: int) -> list[str]:
    # The command name in parentheses may contain spaces, so split after the last ")".
    try:
        text = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return []
    return text.rpartition(")")[2].split()


def _ps(pid: int, column: str) -> str:
    result = subprocess.run(
        ["ps", "-o", column, "-p", str(pid)], capture_output=True, text=True, check=False
    )
    return result.stdout.strip() if result.returncode == 0 else ""
