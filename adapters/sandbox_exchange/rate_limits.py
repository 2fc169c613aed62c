"""Upbit's per-group, per-second request limits, enforced by the sandbox (429, then 418)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from adapters.upbit.rate_limit import GROUP_LIMITS

BLOCK_AFTER_OVERRUNS = 20
"""429s in one second after which the caller is blocked (418), as Upbit escalates."""
BLOCK_S = 3.0


@dataclass(frozen=True)
class Admission:
    """The verdict on one request: its status and the `Remaining-Req` value to send."""

    status: int
    remaining_req: str


class RateLimiter:
    """Counts requests per group per wall-clock second."""

    def __init__(
        self, limits: dict[str, int] | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limits = dict(GROUP_LIMITS if limits is None else limits)
        self._clock = clock
        self._lock = threading.Lock()
        self._counts: dict[str, tuple[int, int, int]] = {}  # group -> (second, used, overruns)
        self._blocked_until = 0.0
        self._rejected: dict[str, int] = {}  # group -> requests answered 429 or 418

    def admit(self, group: str) -> Admission:
        """Count one request of `group`: 200, 429 over the limit, 418 while blocked."""
        limit = self.limits.get(group, 10)
        with self._lock:
            now = self._clock()
            second = int(now)
            start, used, overruns = self._counts.get(group, (second, 0, 0))
            if start != second:
                start, used, overruns = second, 0, 0
            if now < self._blocked_until:
                self._reject(group)
                return Admission(418, self._header(group, limit, 0))
            if used >= limit:
                self._reject(group)
                overruns += 1
                self._counts[group] = (start, used, overruns)
                if overruns >= BLOCK_AFTER_OVERRUNS:
                    self._blocked_until = now + BLOCK_S
                return Admission(429, self._header(group, limit, 0))
            used += 1
            self._counts[group] = (start, used, overruns)
            return Admission(200, self._header(group, limit, limit - used))

    @property
    def rejected(self) -> int:
        """How many requests were answered 429 or 418 (benchmarks assert none)."""
        with self._lock:
            return sum(self._rejected.values())

    def refused(self, group: str) -> int:
        """Return how many requests of `group` were answered 429 or 418.

        For group `order`: the order POSTs refused before they reached the order book.
        """
        with self._lock:
            return self._rejected.get(group, 0)

    def _reject(self, group: str) -> None:
        self._rejected[group] = self._rejected.get(group, 0) + 1

    @staticmethod
    def _header(group: str, limit: int, left: int) -> str:
        return f"group={group}; min={limit * 60}; sec={left}"
