"""The embedded PostgreSQL server on its own: sockets, options, reuse, stop, start errors."""

from __future__ import annotations

import os
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from adapters.embedded import os_process
from adapters.embedded.errors import ServerStartError
from adapters.embedded.ports import pick_free_port
from adapters.embedded.postgres_server import EmbeddedPostgres
from adapters.embedded.server_user import OS_USER_WHEN_ROOT


@pytest.fixture
def stopped_after(tmp_path: Path) -> Iterator[list[EmbeddedPostgres]]:
    servers: list[EmbeddedPostgres] = []
    yield servers
    for server in servers:
        server.stop()


def test_long_data_dir_path_puts_the_socket_under_tmp(
    tmp_path: Path, stopped_after: list[EmbeddedPostgres]
) -> None:
    deep = tmp_path.joinpath(*["a-rather-long-directory-name"] * 4)
    server = EmbeddedPostgres(deep / "pg")
    stopped_after.append(server)

    endpoint = server.start()

    assert endpoint.socket_dir.parent == Path(tempfile.gettempdir())
    with psycopg.connect(endpoint.socket_url()) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("postgres",)
    server.stop()
    assert not endpoint.socket_dir.exists()


def test_start_twice_reuses_the_server_and_passes_options_with_fsync_on(
    tmp_path: Path, stopped_after: list[EmbeddedPostgres]
) -> None:
    server = EmbeddedPostgres(tmp_path / "pg", server_options={"synchronous_commit": "off"})
    stopped_after.append(server)

    first = server.start()
    second = EmbeddedPostgres(tmp_path / "pg").start()

    assert second == first and server.pid == first.pid
    with psycopg.connect(first.url()) as conn:
        assert conn.execute("SHOW synchronous_commit").fetchone() == ("off",)
        assert conn.execute("SHOW fsync").fetchone() == ("on",)
        assert conn.execute("SHOW server_encoding").fetchone() == ("UTF8",)
    if os.geteuid() == 0:
        owner = Path(f"/proc/{first.pid}/status").read_text().split("Uid:")[1].split()[0]
        assert int(owner) != 0, f"runs as {OS_USER_WHEN_ROOT}, not root"


def test_stop_is_idempotent_and_leaves_no_endpoint(
    tmp_path: Path, stopped_after: list[EmbeddedPostgres]
) -> None:
    server = EmbeddedPostgres(tmp_path / "pg")
    stopped_after.append(server)
    pid = server.start().pid

    server.stop()
    server.stop()

    assert not os_process.is_alive(pid)
    assert (server.is_running(), server.endpoint(), server.pid) == (False, None, None)


def test_start_on_a_busy_port_fails_with_the_server_log(
    tmp_path: Path, stopped_after: list[EmbeddedPostgres]
) -> None:
    port = pick_free_port()
    server = EmbeddedPostgres(tmp_path / "pg", port=port, start_timeout_s=10)
    stopped_after.append(server)

    with socket.create_server(("127.0.0.1", port)), pytest.raises(ServerStartError) as failure:
        server.start()

    assert f"did not start on 127.0.0.1:{port}" in str(failure.value)
    assert "last lines of" in str(failure.value) and "could not" in str(failure.value)
    assert not server.is_running()


@pytest.mark.parametrize("name", ["listen_addresses", "port", "Bad Name"])
def test_reserved_or_malformed_server_option_is_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        EmbeddedPostgres(tmp_path / "pg", server_options={name: "x"})
