"""The trading service: a run's loop as a long-running process, crash-only.

The loop is woken by the log (a NOTIFY when events are appended, with polling) and processes
every candle the log holds. When a step fails for a reason that time can cure (the exchange or
the database unreachable, a write race that outlasted its retries) the loop is given up and,
after a back-off, a new one takes over: it re-processes the run from the log, which is exactly
the restart path a killed process takes. Any other failure stops the service and is reported
(style S4.6: a consumer does not swallow). Before each new loop, a run on an exchange is
reconciled with it (`reconcile`: trigger `start` until one succeeded, then `reconnect`); a
reconciliation that cannot reach the exchange is a failure like any other.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from commands.processes.trading_loop import TradingLoop


@dataclass(frozen=True)
class TradingStatus:
    """What the trading service is doing, for `ledger status`."""

    run_id: str
    state: str
    """starting, running, waiting, restarting, finished, stopped or failed."""
    candles: int = 0
    last_candle_at: datetime | None = None
    waiting_for: datetime | None = None
    """The open time of the candle the run waits for."""
    restarts: int = 0
    last_restart_reason: str = ""
    """Why the newest restart happened (kept after the run goes on)."""
    last_restart_at: datetime | None = None
    detail: str = ""
    updated_at: datetime = field(default_factory=lambda: datetime.now(tz=UTC))
    feed_down_since: datetime | None = None
    """Since when the market feed gets no data from the exchange (None while it flows)."""
    feed_next_try_at: datetime | None = None
    """When the market feed tries the exchange again, while down."""
    feed_detail: str = ""
    """Why the market feed is down, in words (empty while it flows)."""


class TradingService:
    """Keeps one run's loop going until stopped, or until its `after_step` says it is done."""

    def __init__(
        self,
        run_id: str,
        make_loop: Callable[[], TradingLoop],
        wake: Callable[[], Awaitable[None]],
        *,
        is_retryable: Callable[[Exception], bool],
        after_step: Callable[[TradingLoop], bool] | None = None,
        report: Callable[[TradingStatus], None] = lambda status: None,
        backoff_s: tuple[float, ...] = (0.2, 0.5, 1.0, 2.0, 5.0),
        reconcile: Callable[[str], object] | None = None,
    ) -> None:
        self.make_loop, self.wake, self.is_retryable = make_loop, wake, is_retryable
        self.reconcile = reconcile
        self.after_step, self.report, self.backoff_s = after_step, report, backoff_s
        self.status = TradingStatus(run_id, "starting")
        self._reported_state, self._reported_at = "", float("-inf")

    async def run(self, stop: asyncio.Event) -> TradingStatus:
        """Run until `stop` is set or the feed is used up; return the last status.

        Raises:
            Exception: a failure that retrying cannot cure (the status says `failed`).
        """
        loop: TradingLoop | None = None
        failures = 0
        has_reconciled = False
        while not stop.is_set():
            try:
                if loop is None:
                    if self.reconcile is not None:
                        trigger = "reconnect" if has_reconciled else "start"
                        await asyncio.to_thread(self.reconcile, trigger)
                        has_reconciled = True
                    loop = await asyncio.to_thread(self.make_loop)
                processed = await asyncio.to_thread(loop.step)
                failures = 0
                self._set(loop, "running" if processed else "waiting")
                if self.after_step is not None:
                    if await asyncio.to_thread(self.after_step, loop):
                        return self._set(loop, "finished")
                    continue
                if not processed:
                    await _first(self.wake(), stop.wait())
            except Exception as error:  # noqa: BLE001 - sorted below: retry or stop
                if not self.is_retryable(error):
                    self._set(loop, "failed", f"{type(error).__name__}: {error}")
                    raise
                loop = None
                delay = self.backoff_s[min(failures, len(self.backoff_s) - 1)]
                failures += 1
                reason = f"{type(error).__name__}: {error}"
                self.status = replace(
                    self.status,
                    restarts=self.status.restarts + 1,
                    last_restart_reason=reason,
                    last_restart_at=datetime.now(tz=UTC),
                )
                self._set(None, "restarting", f"{reason}; again in {delay}s")
                await _first(asyncio.sleep(delay), stop.wait())
        return self._set(loop, "stopped")

    def note_feed(
        self, down_since: datetime | None, next_try_at: datetime | None, detail: str
    ) -> None:
        """Record the market feed's state beside the loop's (the feed runs beside the service)."""
        self.status = replace(
            self.status,
            feed_down_since=down_since,
            feed_next_try_at=next_try_at,
            feed_detail=detail,
            updated_at=datetime.now(tz=UTC),
        )
        self.report(self.status)

    def _set(self, loop: TradingLoop | None, state: str, detail: str = "") -> TradingStatus:
        status = replace(self.status, state=state, detail=detail, updated_at=datetime.now(tz=UTC))
        if loop is not None:
            status = replace(
                status,
                candles=loop.progress.candles,
                last_candle_at=loop.progress.last_candle_at,
                waiting_for=loop.feed.next_open_time,
            )
        # While running, the status is written at most every REPORT_EVERY_S (a file each
        # time); a change of state is written at once.
        now = time.monotonic()
        if state != self._reported_state or now - self._reported_at >= REPORT_EVERY_S:
            self.report(status)
            self._reported_state, self._reported_at = state, now
        self.status = status
        return status


REPORT_EVERY_S = 0.5
"""How often a running loop's status is written while its state stays the same."""


async def _first(*waits: Awaitable[object]) -> None:
    tasks = [asyncio.ensure_future(w) for w in waits]
    _, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
