"""`ledger sandbox` as its own process on a free loopback port: started, waited for, stopped."""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from adapters.embedded.child_process import child_env


class SandboxStartError(Exception):
    """The sandbox process did not start (its last words are in the message)."""


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
    url = f"http://127.0.0.1:{port}"
    try:
        if on_started is not None:
            on_started(process.pid)
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                if httpx.get(f"{url}/sandbox/clock", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    errors.seek(0)
                    said = errors.read().decode(errors="replace")[-2000:]
                    raise SandboxStartError(f"ledger sandbox did not start: {said}") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        errors.close()
