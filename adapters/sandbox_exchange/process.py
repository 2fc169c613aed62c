"""`ledger sandbox` as its own process on a free loopback port: started, waited for, stopped."""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

from adapters.embedded.child_process import child_env


class SandboxStartError(Exception):
    """The sandbox process did not start (its last words are in the message)."""


@dataclass(frozen=True)
class StartingSandbox:
    """A `ledger sandbox` process started and perhaps not serving yet."""

    process: subprocess.Popen[bytes]
    url: str
    errors: IO[bytes]
    timeout_s: float

    @property
    def pid(self) -> int:
        """The process id."""
        return self.process.pid

    def ready(self) -> str:
        """Wait until the sandbox answers; return its base URL.

        Raises:
            SandboxStartError: it ended, or did not answer within `timeout_s` of this call.
        """
        deadline = time.monotonic() + self.timeout_s
        while True:
            try:
                if httpx.get(f"{self.url}/sandbox/clock", timeout=1).status_code == 200:
                    return self.url
            except httpx.TransportError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.errors.seek(0)
                    said = self.errors.read().decode(errors="replace")[-2000:]
                    raise SandboxStartError(f"ledger sandbox did not start: {said}") from None
                time.sleep(0.1)


@contextmanager
def started_sandbox(candles: Path, *flags: str, timeout_s: float = 60) -> Iterator[StartingSandbox]:
    """Start `ledger sandbox --candles CANDLES FLAGS...` without waiting for it; stop it after.

    The sandbox ends with this process even when this one is killed (`child_process.py`), so
    a caller can start it first and do other work while it comes up.
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ledger = str(Path(sys.executable).with_name("ledger"))
    errors = tempfile.TemporaryFile()  # noqa: SIM115 - closed below, after the process
    process = subprocess.Popen(
        [ledger, "sandbox", "--candles", str(candles), "--port", str(port), *flags],
        stdout=subprocess.DEVNULL,
        stderr=errors,
        env=child_env(),
    )
    try:
        yield StartingSandbox(process, f"http://127.0.0.1:{port}", errors, timeout_s)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        errors.close()


@contextmanager
def sandbox_process(
    candles: Path,
    *flags: str,
    timeout_s: float = 60,
    on_started: Callable[[int], None] | None = None,
) -> Iterator[str]:
    """Run `ledger sandbox --candles CANDLES FLAGS...`; yield its base URL; stop it after.

    The sandbox ends with this process even when this one is killed (`child_process.py`);
    `on_started` is given its pid (`ledger run` registers it for `ledger services down`).
    """
    with started_sandbox(candles, *flags, timeout_s=timeout_s) as sandbox:
        if on_started is not None:
            on_started(sandbox.pid)
        yield sandbox.ready()
