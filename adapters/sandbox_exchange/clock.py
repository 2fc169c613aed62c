"""The sandbox's clock: market time runs `speed` times faster than the wall, or is set by tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta


class SandboxClock:
    """Market time = `start` + wall time elapsed x `speed`, until a test sets or freezes it."""

    def __init__(
        self, start: datetime, *, speed: float = 1.0, wall: Callable[[], float] = time.monotonic
    ) -> None:
        if speed <= 0:
            raise ValueError(f"speed {speed} must be greater than 0")
        self._wall = wall
        self._lock = threading.Lock()
        self._anchor, self._wall_anchor, self.speed = start, wall(), speed
        self.is_frozen = False

    def now(self) -> datetime:
        """Return the market's current time (UTC)."""
        with self._lock:
            if self.is_frozen:
                return self._anchor
            elapsed = (self._wall() - self._wall_anchor) * self.speed
            return self._anchor + timedelta(seconds=elapsed)

    def set(self, at: datetime, *, frozen: bool | None = None) -> None:
        """Jump to `at`; `frozen` stops (True) or restarts (False) the clock."""
        with self._lock:
            self._anchor, self._wall_anchor = at, self._wall()
            if frozen is not None:
                self.is_frozen = frozen
