"""The local services of `ledger services up|down|status`: embedded PostgreSQL and NATS."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from adapters.embedded import os_process
from adapters.embedded.errors import EmbeddedServerError
from adapters.embedded.nats_server import EmbeddedNats
from adapters.embedded.postgres_server import EmbeddedPostgres
from adapters.embedded.state_file import exclusive_lock, read_json, write_json

POSTGRES = "postgres"
NATS = "nats"


@dataclass(frozen=True)
class ServiceStatus:
    """One server: whether it runs, where, and whether `up` started it.

    `action` says what the call did: "started", "reused", "restarted", "stopped", "left running"
    (running, but not started by `up`), "not running"; None when the call did not touch it.
    """

    name: str
    is_running: bool
    pid: int | None
    url: str | None
    is_started_by_up: bool
    action: str | None = None


@dataclass(frozen=True)
class ProcessStatus:
    """A process registered to be ended by `down`; `action` is "stopped", "killed" or "gone"."""

    name: str
    pid: int
    is_running: bool
    action: str | None = None


@dataclass(frozen=True)
class ServicesReport:
    """What `up`, `down` or `status` found and did, ready to print as a table or JSON."""

    state_dir: Path
    services: tuple[ServiceStatus, ...]
    processes: tuple[ProcessStatus, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """Return the report as JSON-ready primitives."""
        return {
            "state_dir": str(self.state_dir),
            "services": [asdict(service) for service in self.services],
            "processes": [asdict(process) for process in self.processes],
        }


class EmbeddedServices:
    """PostgreSQL (in ``state_dir/pg``) and NATS (in ``state_dir/nats``) for one checkout.

    ``state_dir/services.json`` records the servers `up` started and the processes registered
    with `register_process`, so `down` stops exactly those and nothing it did not start.
    """

    def __init__(
        self,
        state_dir: Path,
        *,
        postgres_port: int | None = None,
        nats_port: int | None = None,
        stop_timeout_s: float = 10.0,
        postgres_options: Mapping[str, str] | None = None,
    ) -> None:
        """`postgres_options`: server settings the PostgreSQL it starts is given."""
        self._state_dir = state_dir.expanduser().resolve()
        self._state_file = self._state_dir / "services.json"
        self._lock_file = self._state_dir / "services.lock"
        self._stop_timeout_s = stop_timeout_s
        self.postgres = EmbeddedPostgres(
            self._state_dir / "pg", port=postgres_port, server_options=postgres_options
        )
        self.nats = EmbeddedNats(self._state_dir / "nats", port=nats_port)

    @property
    def state_dir(self) -> Path:
        return self._state_dir

    def up(self, *, postgres: bool = True, nats: bool = True) -> ServicesReport:
        """Start the servers asked for; reuse any already running on the same data dir."""
        actions: dict[str, str] = {}
        self._state_dir.mkdir(parents=True, exist_ok=True)
        with exclusive_lock(self._lock_file):
            for name, wanted in ((POSTGRES, postgres), (NATS, nats)):
                if not wanted:
                    continue
                was_running = self._probe(name)[0] is not None
                pid, url = self._start(name)  # also waits until a reused server is ready
                if was_running:
                    actions[name] = "reused"
                    continue
                state = self._read_state()
                state["started"][name] = {"pid": pid, "url": url}
                write_json(self._state_file, state)  # after each start, so a failure loses none
                actions[name] = "started"
        return self._report(actions)

    def down(self) -> ServicesReport:
        """Stop the registered processes, then the servers `up` started; clear the state file."""
        actions: dict[str, str] = {}
        if not self._state_dir.is_dir():
            return self._report({POSTGRES: "not running", NATS: "not running"})
        # Without the lock: an ending `ledger run` may unregister itself while it shuts down.
        registered = self._read_state()["processes"]
        ended = [self._end_process(name, record) for name, record in registered.items()]
        with exclusive_lock(self._lock_file):
            state = self._read_state()
            for name in (NATS, POSTGRES):
                pid, _ = self._probe(name)
                recorded = state["started"].get(name, {}).get("pid")
                if pid is None:
                    actions[name] = "not running"
                elif pid != recorded:
                    actions[name] = "left running"
                else:
                    self._stop(name)
                    actions[name] = "stopped"
                state["started"].pop(name, None)
                write_json(self._state_file, state)
            self._state_file.unlink(missing_ok=True)
        return self._report(actions, processes=tuple(ended))

    def restart(self, name: str, *, down_s: float = 0.0) -> ServicesReport:
        """Stop one server, keep it down `down_s` seconds, and start it on the same data and port.

        For fault drills (docs/trading.md "Faults"): clients see the outage a real restart
        causes. A server `up` started stays recorded as started by `up` (its new pid), so
        `down` still stops it.

        Raises:
            ValueError: `name` is neither ``postgres`` nor ``nats``.
        """
        if name not in (POSTGRES, NATS):
            raise ValueError(f"server {name!r} is not one of: {POSTGRES}, {NATS}")
        self._state_dir.mkdir(parents=True, exist_ok=True)
        with exclusive_lock(self._lock_file):
            before, _ = self._probe(name)
            state = self._read_state()
            was_started_by_up = before is not None and (
                state["started"].get(name, {}).get("pid") == before
            )
            if before is not None:
                self._stop(name)
            if down_s > 0:
                time.sleep(down_s)
            pid, url = self._start(name)
            if was_started_by_up or before is None:
                state = self._read_state()
                state["started"][name] = {"pid": pid, "url": url}
                write_json(self._state_file, state)
        return self._report({name: "restarted" if before is not None else "started"})

    def status(self) -> ServicesReport:
        """Report each server and registered process without changing anything."""
        processes = tuple(
            ProcessStatus(name, record["pid"], _is_same_process(record))
            for name, record in self._read_state()["processes"].items()
        )
        return self._report({}, processes=processes)

    def register_process(self, name: str, pid: int) -> None:
        """Record `pid` so that `down` ends it too (`ledger run` registers itself)."""
        self._state_dir.mkdir(parents=True, exist_ok=True)
        with exclusive_lock(self._lock_file):
            started_at = os_process.start_time(pid)
            if not started_at or not os_process.is_alive(pid):
                raise EmbeddedServerError(f"process {pid} ({name}) is not running")
            state = self._read_state()
            state["processes"][name] = {"pid": pid, "start_time": started_at}
            write_json(self._state_file, state)

    def unregister_process(self, name: str) -> None:
        """Forget the process registered as `name`; unknown names are ignored."""
        if not self._state_dir.is_dir():
            return
        with exclusive_lock(self._lock_file):
            state = self._read_state()
            if state["processes"].pop(name, None) is not None:
                write_json(self._state_file, state)

    def _probe(self, name: str) -> tuple[int | None, str | None]:
        if name == POSTGRES:
            pg = self.postgres.endpoint()
            return (pg.pid, pg.url()) if pg else (self.postgres.pid, None)
        bus = self.nats.endpoint()
        return (bus.pid, bus.url) if bus else (None, None)

    def _start(self, name: str) -> tuple[int, str]:
        if name == POSTGRES:
            pg = self.postgres.start()
            return pg.pid, pg.url()
        bus = self.nats.start()
        return bus.pid, bus.url

    def _stop(self, name: str) -> None:
        if name == POSTGRES:
            self.postgres.stop(timeout_s=max(self._stop_timeout_s, 30.0))
        else:
            self.nats.stop(timeout_s=self._stop_timeout_s)

    def _end_process(self, name: str, record: dict[str, Any]) -> ProcessStatus:
        pid = record["pid"]
        if pid == os.getpid():
            return ProcessStatus(name, pid, is_running=True, action="left running (caller)")
        if not _is_same_process(record):
            return ProcessStatus(name, pid, is_running=False, action="gone")
        is_clean = os_process.terminate(pid, timeout_s=self._stop_timeout_s)
        return ProcessStatus(
            name, pid, is_running=False, action="stopped" if is_clean else "killed"
        )

    def _read_state(self) -> dict[str, Any]:
        state = read_json(self._state_file)
        return {"started": state.get("started", {}), "processes": state.get("processes", {})}

    def _report(
        self, actions: dict[str, str], processes: tuple[ProcessStatus, ...] = ()
    ) -> ServicesReport:
        started = self._read_state()["started"]
        services = []
        for name in (POSTGRES, NATS):
            pid, url = self._probe(name)
            services.append(
                ServiceStatus(
                    name=name,
                    is_running=pid is not None,
                    pid=pid,
                    url=url,
                    is_started_by_up=pid is not None and started.get(name, {}).get("pid") == pid,
                    action=actions.get(name),
                )
            )
        return ServicesReport(self._state_dir, tuple(services), processes)


def _is_same_process(record: dict[str, Any]) -> bool:
    # Same pid and same start time: not a later process that happens to reuse the pid.
    pid = record["pid"]
    return os_process.is_alive(pid) and os_process.start_time(pid) == record["start_time"]
