"""`ledger run` brings the stack up and serves /health; `ledger services down` ends it all."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from pathlib import Path

import httpx

from tests.e2e.conftest import LEDGER


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def is_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


def wait_for_health(url: str, process: subprocess.Popen[str], timeout_s: float) -> dict:  # type: ignore[type-arg]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        try:
            response = httpx.get(url, timeout=1)
            if response.status_code == 200:
                return dict(response.json())
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {timeout_s} s")


def test_run_serves_health_and_services_down_leaves_no_process(tmp_path: Path) -> None:
    # Given `ledger run` on a fresh data dir
    port = free_port()
    base = [LEDGER, "--data-dir", str(tmp_path / "ledger")]
    env = {**os.environ, "COLUMNS": "200"}
    process = subprocess.Popen(
        [*base, "run", "--port", str(port)],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        # When it is up
        health = wait_for_health(f"http://127.0.0.1:{port}/health", process, timeout_s=90)
        status = json.loads(
            subprocess.run(
                [*base, "services", "status", "--json"],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        # Then the event log answers and both servers run, started by `up`
        assert health["status"] == "ok" and health["event_log"] == "ok"
        assert health["time_kst"].endswith("+09:00")
        servers = {s["name"]: s for s in status["services"]}
        assert servers["postgres"]["is_running"] and servers["nats"]["is_running"]
        assert servers["nats"]["url"].startswith("nats://127.0.0.1:")
        pids = [servers["postgres"]["pid"], servers["nats"]["pid"], process.pid]
        # And a command's events reach every read model through the relay and projectors
        subprocess.run(
            [*base, "capital", "allocate", "--strategy", "e2e", "--amount", "1000000"],
            env=env,
            capture_output=True,
            check=True,
        )
        deadline = time.monotonic() + 30
        while True:
            rows = json.loads(
                subprocess.run(
                    [*base, "projections", "status", "--json"],
                    env=env,
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
            )
            if all(r["head"] > 0 and r["behind"] == 0 for r in rows):
                break
            assert time.monotonic() < deadline, rows
            time.sleep(0.3)
        # When the services are brought down
        down = subprocess.run(
            [*base, "services", "down"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert down.returncode == 0, down.stderr
        # Then `ledger run` has exited and no server process is left
        assert process.wait(timeout=30) is not None
        deadline = time.monotonic() + 10
        while any(is_alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [pid for pid in pids if is_alive(pid)] == []
        output = process.stdout.read() if process.stdout else ""
        assert "upbit-ledger is running" in output
    finally:
        if process.poll() is None:
            process.kill()
        subprocess.run([*base, "services", "down"], env=env, capture_output=True, check=False)
