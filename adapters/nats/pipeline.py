"""The CQRS pipeline of one process: the relay and any projectors, on one asyncio loop.

`ledger run` runs the whole pipeline in a background thread beside the API; `ledger relay` and
`ledger project` run parts of it in the foreground, so each can be its own service. Every part
reconnects after NATS or the database went away (`sessions.py`); the pipeline reports each
part's state every second (`on_report`) and says when a part loses its connection and when
it works again (`on_notice`), so an outage leaves a record.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from adapters.nats.projector import NatsProjector
from adapters.nats.relay import LogRelay
from adapters.nats.session_notices import SessionNotices
from adapters.nats.sessions import SessionRecord
from adapters.postgres.projection_writer import ProjectionStoppedError

REPORT_S = 1.0


@dataclass
class CqrsPipeline:
    """A relay (optional) and projectors, run until stopped."""

    relay: LogRelay | None
    projectors: Sequence[NatsProjector]
    stopped_projections: list[str] = field(default_factory=list)
    """Messages of projectors that stopped on an event (parked)."""
    on_report: Callable[[dict[str, Any]], None] | None = None
    """Given `report()` every second while running, and once at the end."""
    on_notice: Callable[[str], None] | None = None
    """Given a line when a part loses its connection, and when it works again (rate-limited)."""
    notices: SessionNotices = field(default_factory=SessionNotices)
    error: BaseException | None = None
    """What ended the background pipeline, if anything did but `stop`."""
    _stop: asyncio.Event | None = None
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None

    async def run(self, stop: asyncio.Event) -> None:
        """Run every part until `stop` is set; a parked projector stops alone, with its reason."""
        tasks: list[asyncio.Future[object]] = [
            asyncio.ensure_future(self._projector(p, stop)) for p in self.projectors
        ]
        if self.relay is not None:
            tasks.append(asyncio.ensure_future(self.relay.run(stop)))
        watcher = asyncio.ensure_future(self._watch(stop))
        try:
            await asyncio.gather(*tasks)
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            self._tell()

    def parts(self) -> dict[str, SessionRecord]:
        """Return each part's record: ``relay`` and ``projector:<read model>``."""
        found: dict[str, SessionRecord] = {}
        if self.relay is not None:
            found["relay"] = self.relay.stats
        for projector in self.projectors:
            found[f"projector:{projector.writer.name}"] = projector.stats
        return found

    def report(self) -> dict[str, Any]:
        """Return each part's state, position, session restarts and newest error, as primitives."""
        parts = {}
        for name, record in self.parts().items():
            parts[name] = {
                "state": "up" if record.is_up else "reconnecting",
                "position": getattr(record, "position", 0),
                "restarts": record.restarts,
                "reconnects": record.reconnects,
                "timeouts": record.timeouts,
                "last_cause": record.last_cause,
                "last_error": record.errors[-1] if record.errors else None,
                "last_error_at": _iso(record.last_error_at),
                "last_ok_at": _iso(record.last_ok_at),
            }
        return {
            "updated_at": datetime.now(tz=UTC).isoformat(),
            "restarts": sum(p["restarts"] for p in parts.values()),
            "reconnects": sum(p["reconnects"] for p in parts.values()),
            "timeouts": sum(p["timeouts"] for p in parts.values()),
            "stopped_projections": list(self.stopped_projections),
            "parts": parts,
        }

    async def _watch(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self._tell()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), REPORT_S)

    def _tell(self) -> None:
        for line in self.notices.tell(self.parts()):
            self._notice(line)
        if self.on_report is not None:
            self.on_report(self.report())

    def _notice(self, line: str) -> None:
        if self.on_notice is not None:
            self.on_notice(line)

    async def _projector(self, projector: NatsProjector, stop: asyncio.Event) -> None:
        try:
            await projector.run(stop)
        except ProjectionStoppedError as error:
            self.stopped_projections.append(str(error))

    def start_in_background(self) -> None:
        """Run the pipeline on its own thread and loop (for `ledger run`)."""
        ready = threading.Event()

        def main() -> None:
            self._loop = asyncio.new_event_loop()
            self._stop = asyncio.Event()
            ready.set()
            try:
                self._loop.run_until_complete(self.run(self._stop))
            except BaseException as error:  # noqa: BLE001 - handed to whoever waits on it
                self.error = error
                self._notice(f"the CQRS pipeline stopped: {type(error).__name__}: {error}")
            finally:
                self._loop.close()

        self._thread = threading.Thread(target=main, name="cqrs-pipeline", daemon=True)
        self._thread.start()
        ready.wait(5)

    def stop_background(self, timeout_s: float = 10.0) -> None:
        """Stop the background pipeline and wait for it."""
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout_s)

    def close(self) -> None:
        """Close the projectors' database connections."""
        for projector in self.projectors:
            projector.writer.close()


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None
