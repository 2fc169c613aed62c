"""The embedded NATS server on its own: JetStream, reuse, restart on the same port, errors."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import nats
import pytest

from adapters.embedded import os_process
from adapters.embedded.errors import ServerStartError
from adapters.embedded.nats_server import EmbeddedNats
from adapters.embedded.ports import pick_free_port


async def _jetstream_streams(url: str) -> int:
    client = await nats.connect(url)
    info = await client.jetstream().account_info()
    await client.close()
    return int(info.streams)


def test_start_serves_jetstream_and_a_second_start_reuses_it(tmp_path: Path) -> None:
    server = EmbeddedNats(tmp_path / "nats")
    try:
        first = server.start()
        second = EmbeddedNats(tmp_path / "nats").start()

        assert second == first and first.url == f"nats://127.0.0.1:{first.port}"
        assert asyncio.run(_jetstream_streams(first.url)) == 0
    finally:
        server.stop()


def test_restart_after_stop_keeps_the_port_and_no_process(tmp_path: Path) -> None:
    server = EmbeddedNats(tmp_path / "nats")
    first = server.start()
    server.stop()
    server.stop()

    second = EmbeddedNats(tmp_path / "nats").start()
    EmbeddedNats(tmp_path / "nats").stop()

    assert second.port == first.port and second.pid != first.pid
    assert not os_process.is_alive(first.pid) and not os_process.is_alive(second.pid)
    assert server.endpoint() is None


def test_start_on_a_busy_port_fails_with_the_server_log(tmp_path: Path) -> None:
    port = pick_free_port()
    server = EmbeddedNats(tmp_path / "nats", port=port)

    with socket.create_server(("127.0.0.1", port)), pytest.raises(ServerStartError) as failure:
        server.start()

    assert "exited with code" in str(failure.value) and "last lines of" in str(failure.value)
    assert not server.is_running()
