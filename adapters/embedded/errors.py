"""Errors of the embedded PostgreSQL and NATS servers (S4.2: none of them is retryable)."""

from __future__ import annotations

from pathlib import Path

_LOG_TAIL_LINES = 25


class EmbeddedServerError(Exception):
    """Root of the embedded-server errors: a local server was not set up, started or stopped."""


class ServerSetupError(EmbeddedServerError):
    """The machine is not ready for the server: missing binary, OS user, unusable directory."""


class ServerStartError(EmbeddedServerError):
    """The server did not start, or did not become ready within its timeout."""


class ServerStopError(EmbeddedServerError):
    """A process could not be stopped, even with SIGKILL."""


def with_log_tail(message: str, log_file: Path) -> str:
    """Return `message` followed by the last lines of `log_file`, so the cause is in the error."""
    try:
        lines = log_file.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return f"{message} (no server log was found at {log_file})"
    tail = "\n".join(f"    {line}" for line in lines[-_LOG_TAIL_LINES:])
    return f"{message}\n  last lines of {log_file}:\n{tail}"
