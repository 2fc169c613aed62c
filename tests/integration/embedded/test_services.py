"""`ledger services up|down|status` against real servers started in temporary directories."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import nats
import psycopg
import pytest

from adapters.embedded import os_process
from adapters.embedded.nats_server import EmbeddedNats
from adapters.embedded.services import EmbeddedServices, ServicesReport, ServiceStatus

pytestmark = pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads /proc")


@pytest.fixture
def services(tmp_path: Path) -> Iterator[EmbeddedServices]:
    services = EmbeddedServices(tmp_path / "ledger", stop_timeout_s=2.0)
    yield services
    services.down()
    services.postgres.stop()
    services.nats.stop()


def _listening_addresses(port: int) -> set[str]:
    found = set()
    for table, family in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, _, port_hex = local.rpartition(":")
            if state == "0A" and int(port_hex, 16) == port:  # 0A: LISTEN
                raw = bytes.fromhex(address)
                # The kernel prints each 32-bit word in host (little-endian) order.
                words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
                found.add(socket.inet_ntop(family, words))
    return found


def _children(pid: int) -> set[int]:
    children = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            children.add(int(stat.parent.name))
    return children


def _service(report: ServicesReport, name: str) -> ServiceStatus:
    return next(service for service in report.services if service.name == name)


def test_up_starts_both_servers_listening_on_loopback_only(services: EmbeddedServices) -> None:
    report = services.up()

    pg, bus = _service(report, "postgres"), _service(report, "nats")
    assert (pg.action, bus.action) == ("started", "started")
    assert pg.is_running and bus.is_running and pg.is_started_by_up and bus.is_started_by_up
    pg_endpoint, nats_endpoint = services.postgres.endpoint(), services.nats.endpoint()
    assert pg_endpoint is not None and nats_endpoint is not None
    assert _listening_addresses(pg_endpoint.port) == {"127.0.0.1"}
    assert _listening_addresses(nats_endpoint.port) == {"127.0.0.1"}
    assert pg.url == f"postgresql://postgres@127.0.0.1:{pg_endpoint.port}/postgres"
    assert bus.url == f"nats://127.0.0.1:{nats_endpoint.port}"
    with psycopg.connect(pg_endpoint.socket_url()) as conn:
        assert conn.execute("SHOW listen_addresses").fetchone() == ("127.0.0.1",)


def test_up_twice_reuses_the_running_servers(services: EmbeddedServices) -> None:
    first = services.up()

    second = services.up()

    assert [s.action for s in second.services] == ["reused", "reused"]
    assert [s.pid for s in second.services] == [s.pid for s in first.services]
    assert all(s.is_started_by_up for s in second.services)


def test_status_reports_servers_started_by_up_and_not_after_down(
    services: EmbeddedServices,
) -> None:
    started = services.up()

    status = services.status()
    services.down()
    after = services.status()

    assert [(s.pid, s.url, s.is_started_by_up) for s in status.services] == [
        (s.pid, s.url, True) for s in started.services
    ]
    assert [(s.is_running, s.pid, s.url) for s in after.services] == [(False, None, None)] * 2
    assert status.as_dict()["services"][0]["name"] == "postgres"


def test_down_stops_both_servers_and_leaves_no_process(services: EmbeddedServices) -> None:
    report = services.up()
    pids = {s.pid for s in report.services if s.pid is not None}
    pids |= {child for pid in pids for child in _children(pid)}
    assert len(pids) > 2  # postmaster with its background workers, and nats-server

    down = services.down()

    assert [s.action for s in down.services] == ["stopped", "stopped"]
    assert [pid for pid in pids if os_process.is_alive(pid)] == []
    assert not (services.postgres.data_dir.parent / "services.json").exists()
    assert [s.action for s in services.down().services] == ["not running", "not running"]


def test_down_ends_registered_processes_even_one_that_ignores_sigterm(
    services: EmbeddedServices,
) -> None:
    polite = subprocess.Popen(["sleep", "60"])
    stubborn = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            "print('ready', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
    )
    assert stubborn.stdout is not None and stubborn.stdout.readline() == b"ready\n"
    services.register_process("ledger-run", polite.pid)
    services.register_process("stubborn", stubborn.pid)

    report = services.down()

    actions = {process.name: process.action for process in report.processes}
    assert actions == {"ledger-run": "stopped", "stubborn": "killed"}
    assert polite.wait(timeout=5) is not None and stubborn.wait(timeout=5) is not None
    stubborn.stdout.close()


def test_down_lets_a_registered_process_unregister_itself_while_it_stops(
    services: EmbeddedServices,
) -> None:
    script = (
        "import signal, sys, time\n"
        "from pathlib import Path\n"
        "from adapters.embedded.services import EmbeddedServices\n"
        "def stop(*_):\n"
        "    EmbeddedServices(Path(sys.argv[1])).unregister_process('ledger-run')\n"
        "    sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, stop)\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    repo_root = Path(__file__).parents[3]
    child = subprocess.Popen(
        [sys.executable, "-c", script, str(services.state_dir)],
        stdout=subprocess.PIPE,
        cwd=repo_root,
    )
    assert child.stdout is not None and child.stdout.readline() == b"ready\n"
    services.register_process("ledger-run", child.pid)

    report = services.down()

    assert [(p.name, p.action) for p in report.processes] == [("ledger-run", "stopped")]
    assert child.wait(timeout=5) == 0
    assert services.status().processes == ()
    child.stdout.close()


def test_down_leaves_running_a_server_it_did_not_start(services: EmbeddedServices) -> None:
    outsider = EmbeddedNats(services.nats.data_dir)
    outsider_endpoint = outsider.start()

    up = services.up(postgres=False)
    down = services.down()

    assert _service(up, "nats").action == "reused"
    assert not _service(up, "nats").is_started_by_up
    assert _service(down, "nats").action == "left running"
    assert outsider.endpoint() == outsider_endpoint
    outsider.stop()
    assert not os_process.is_alive(outsider_endpoint.pid)


def test_restart_after_down_keeps_data_and_ports(services: EmbeddedServices) -> None:
    first = services.up()
    pg = services.postgres.endpoint()
    bus = services.nats.endpoint()
    assert pg is not None and bus is not None
    with psycopg.connect(pg.url(), autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (note text)")
        conn.execute("INSERT INTO kept VALUES ('survives a restart')")
    asyncio.run(_publish(bus.url))

    services.down()
    second = services.up()

    assert [s.url for s in second.services] == [s.url for s in first.services]
    assert [s.pid for s in second.services] != [s.pid for s in first.services]
    with psycopg.connect(pg.url()) as conn:
        assert conn.execute("SELECT note FROM kept").fetchall() == [("survives a restart",)]
    assert asyncio.run(_stored_messages(bus.url)) == 1


async def _publish(url: str) -> None:
    client = await nats.connect(url)
    stream = client.jetstream()
    await stream.add_stream(name="KEPT", subjects=["kept.>"])
    await stream.publish("kept.one", b"survives a restart")
    await client.close()


async def _stored_messages(url: str) -> int:
    client = await nats.connect(url)
    info = await client.jetstream().stream_info("KEPT")
    await client.close()
    return int(info.state.messages)


@pytest.mark.parametrize("name", ["postgres", "nats"])
def test_restart_of_one_server_keeps_its_port_and_down_still_stops_it(
    services: EmbeddedServices, name: str
) -> None:
    # Given both servers started by `up`
    before = _service(services.up(), name)
    other = _service(services.status(), "nats" if name == "postgres" else "postgres")

    # When one is restarted after being down for a moment
    report = services.restart(name, down_s=0.3)

    # Then it runs again under a new pid on the same URL, still as started by `up`; the other
    # server was not touched, and `down` stops both
    after = _service(report, name)
    assert after.action == "restarted"
    assert after.is_running and after.pid != before.pid and after.url == before.url
    assert after.is_started_by_up
    assert _service(report, other.name).pid == other.pid
    assert before.pid is not None and not os_process.is_alive(before.pid)
    stopped = services.down()
    assert {s.name: s.action for s in stopped.services} == {
        "postgres": "stopped",
        "nats": "stopped",
    }


def test_restart_of_an_unknown_server_is_refused_naming_it(services: EmbeddedServices) -> None:
    with pytest.raises(ValueError, match="'redis' is not one of: postgres, nats"):
        services.restart("redis")
