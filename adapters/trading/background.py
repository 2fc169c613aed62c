"""The trading service and its market feed on their own thread and event loop (`ledger run`)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable

from adapters.trading.service import TradingService


class BackgroundTrading:
    """Runs the service (and the feed beside it) until stopped, finished or failed."""

    def __init__(
        self,
        service: TradingService,
        market_feed: Callable[[asyncio.Event], Awaitable[object]] | None = None,
    ) -> None:
        self.service, self.market_feed = service, market_feed
        self.error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self.done = threading.Event()

    def start(self) -> None:
        """Start the thread."""
        ready = threading.Event()

        def main() -> None:
            self._loop = asyncio.new_event_loop()
            self._stop = asyncio.Event()
            ready.set()
            try:
                self._loop.run_until_complete(self._run(self._stop))
            except BaseException as error:  # noqa: BLE001 - handed to the thread that waits
                self.error = error
            finally:
                self._loop.close()
                self.done.set()

        self._thread = threading.Thread(target=main, name="trading", daemon=True)
        self._thread.start()
        ready.wait(5)

    async def _run(self, stop: asyncio.Event) -> None:
        service = asyncio.ensure_future(self.service.run(stop))
        tasks: set[asyncio.Future[object]] = {service}
        if self.market_feed is not None:
            tasks.add(asyncio.ensure_future(self.market_feed(stop)))
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        stop.set()  # the service finished or failed, or the feed failed: end the other
        await asyncio.gather(*tasks, return_exceptions=True)
        for task in done:
            task.result()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Ask the service and the feed to stop; wait for them."""
        if self._loop is not None and self._stop is not None and not self.done.is_set():
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout_s)
