"""Loopback TCP ports for the embedded servers: pick a free one and keep it across restarts."""

from __future__ import annotations

import socket
from pathlib import Path

from adapters.embedded.state_file import read_json, write_json

LOOPBACK = "127.0.0.1"


def is_port_free(port: int) -> bool:
    """Return whether a server could bind `port` on the loopback address now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # Servers set SO_REUSEADDR too, so a port in TIME_WAIT counts as free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def pick_free_port() -> int:
    """Return a port the kernel reports free on the loopback address."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
    return port


def resolve_port(memory_file: Path, requested: int | None) -> int:
    """Return the port to start a server on, and remember it in `memory_file`.

    An explicit `requested` port always wins. Otherwise the remembered port is reused, so URLs
    stay valid across restarts; only if another program holds it is a new free port chosen.
    """
    state = read_json(memory_file)
    remembered = state.get("port")
    if requested is not None:
        port = requested
    elif isinstance(remembered, int) and is_port_free(remembered):
        port = remembered
    else:
        port = pick_free_port()
    if port != remembered:
        write_json(memory_file, {**state, "port": port})
    return port
