"""The CQRS pipeline of one process: the relay and any projectors, on one asyncio loop.

`ledger run` runs the whole pipeline in a background thread beside the API; `ledger relay` and
`ledger project` run parts of it in the foreground, so each can be its own service.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from adapters.nats.projector import NatsProjector
from adapters.nats.relay import LogRelay
from adapters.postgres.projection_writer import ProjectionStoppedError


@dataclass
class CqrsPipeline:
    """A relay (optional) and projectors, run until stopped."""

    relay: LogRelay | None
    projectors: Sequence[NatsProjector]
    stopped_projections: list[str] = field(default_factory=list)
    """Messages of projectors that stopped on an event (parked)."""
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
        await asyncio.gather(*tasks)

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
            self._loop.run_until_complete(self.run(self._stop))
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
