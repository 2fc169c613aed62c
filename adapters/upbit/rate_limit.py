"""Upbit's rate limits: the `Remaining-Req` header and a throttle per group (§3).

`Remaining-Req: group=candles; min=600; sec=9` says 9 requests are left in this second for the
group; the throttle spends its own budget per group and trusts the header when it says less.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from adapters.upbit.errors import UpbitMalformedPayloadError

HEADER = re.compile(r"^\s*group=([a-z\-]+);\s*min=([0-9]+);\s*sec=([0-9]+)\s*$")
GROUP_LIMITS = {
    "market": 10,
    "candles": 10,
    "crix-trades": 10,
    "ticker": 10,
    "orderbook": 10,
    "default": 30,
    "order": 12,
    "order-test": 8,
    "order-cancel-all": 1,
}
"""Requests per second per group (upbit-api.md §3; order 12/s since 2026-08-21)."""


@dataclass(frozen=True)
class RemainingReq:
    """One parsed `Remaining-Req` header."""

    group: str
    per_minute: int
    this_second: int


def parse_remaining_req(value: str) -> RemainingReq:
    """Parse a `Remaining-Req` header value.

    Raises:
        UpbitMalformedPayloadError: the header does not have Upbit's form.
    """
    match = HEADER.match(value)
    if match is None:
        raise UpbitMalformedPayloadError(
            f"Remaining-Req {value!r} is not of the form 'group=<g>; min=<n>; sec=<n>'"
        )
    return RemainingReq(match[1], int(match[2]), int(match[3]))


class Throttle:
    """At most `limit` requests per second per group, corrected by the server's header."""

    def __init__(
        self,
        limits: dict[str, int] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.limits = dict(GROUP_LIMITS if limits is None else limits)
        self._clock, self._sleep = clock, sleep
        self._windows: dict[str, tuple[int, int]] = {}  # group -> (second, requests sent)
        self._lock = threading.Lock()

    def acquire(self, group: str) -> None:
        """Wait until one more request of `group` fits in the current second."""
        limit = self.limits.get(group, 10)
        while True:
            with self._lock:
                now = self._clock()
                second = int(now)
                start, used = self._windows.get(group, (second, 0))
                if start != second:
                    start, used = second, 0
                if used < limit:
                    self._windows[group] = (start, used + 1)
                    return
                wait = second + 1 - now
            self._sleep(max(wait, 0.001))

    def observe(self, header: RemainingReq) -> None:
        """Trust the server: when it says no request is left this second, spend the budget."""
        if header.this_second == 0:
            with self._lock:
                second = int(self._clock())
                self._windows[header.group] = (second, self.limits.get(header.group, 10))
