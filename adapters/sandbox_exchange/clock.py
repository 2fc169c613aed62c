"""The sandbox's clock: market time runs `speed` times faster than the wall, or is set by tests.

Paced, it runs only up to a hold point (`until`) and waits there, so a trading system can drive
the market as fast as it processes it: each `release(until)` lets the clock run on at `speed`
from where it held (the wall time spent holding never counts) and hold again at `until`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta


class UntilBeforeNowError(ValueError):
    """A release names a hold point earlier than the clock's now: market time never goes back."""


@dataclass(frozen=True)
class ClockState:
    """One consistent reading of the clock: its now (UTC), hold point, speed and frozen flag."""

    now: datetime
    until: datetime | None
    """Where a paced clock holds; None when it runs freely."""
    speed: float
    is_frozen: bool


class SandboxClock:
    """Market time = `start` + wall time elapsed x `speed`, capped at `until` when paced.

    Tests may also set or freeze it. `paced=True` starts it held at `start`.
    """

    def __init__(
        self,
        start: datetime,
        *,
        speed: float = 1.0,
        wall: Callable[[], float] = time.monotonic,
        paced: bool = False,
    ) -> None:
        if speed <= 0:
            raise ValueError(f"speed {speed} must be greater than 0")
        self._wall = wall
        self._lock = threading.Lock()
        self._anchor, self._wall_anchor, self.speed = start, wall(), speed
        self.is_frozen = False
        self.until: datetime | None = start if paced else None

    def now(self) -> datetime:
        """Return the market's current time (UTC)."""
        with self._lock:
            return self._now()

    def state(self) -> ClockState:
        """Return now, the hold point, speed and frozen flag, read together."""
        with self._lock:
            return ClockState(self._now(), self.until, self.speed, self.is_frozen)

    def set(self, at: datetime, *, frozen: bool | None = None) -> None:
        """Jump to `at`; `frozen` stops (True) or restarts (False) the clock.

        A paced clock whose hold point is before `at` holds at `at`.
        """
        with self._lock:
            self._anchor, self._wall_anchor = at, self._wall()
            if self.until is not None and self.until < at:
                self.until = at
            if frozen is not None:
                self.is_frozen = frozen

    def release(self, until: datetime | None) -> ClockState:
        """Run on at `speed` from now up to `until` and hold there (None: run freely).

        A frozen clock is unfrozen; it continues from where it stood, not from the wall.

        Raises:
            UntilBeforeNowError: `until` is earlier than the clock's now.
        """
        with self._lock:
            now = self._now()
            if until is not None and until < now:
                raise UntilBeforeNowError(
                    f"until {until.isoformat()} is earlier than the clock's now "
                    f"{now.isoformat()}; market time never goes back"
                )
            self._anchor, self._wall_anchor = now, self._wall()
            self.until, self.is_frozen = until, False
            return ClockState(now, until, self.speed, False)

    def wall_reached(self, at: datetime) -> float | None:
        """Return the wall time (monotonic) at which the clock reached `at`, or None.

        Known for a time reached since the last release or set, unless the clock is frozen.
        """
        with self._lock:
            is_beyond = self.until is not None and at > self.until
            if self.is_frozen or at < self._anchor or is_beyond:
                return None
            return self._wall_anchor + (at - self._anchor).total_seconds() / self.speed

    def wall(self) -> float:
        """Return the wall time (monotonic) the clock reads."""
        return self._wall()

    def _now(self) -> datetime:
        if self.is_frozen:
            return self._anchor
        elapsed = (self._wall() - self._wall_anchor) * self.speed
        now = self._anchor + timedelta(seconds=elapsed)
        return now if self.until is None or now < self.until else self.until
