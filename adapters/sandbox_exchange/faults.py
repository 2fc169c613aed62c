"""Faults the sandbox injects into its next order POSTs, for tests of at-most-once submission.

Each queued fault spoils one `POST /v1/orders`, in order: an answer lost after the order was
created (5xx, or a hang past the client's timeout), a 5xx before anything was created, a 429,
or a 418. The queue is filled and read through `/sandbox/faults` (docs/market-ingest.md).
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

FAULT_KINDS = {
    "error_after_create": "the order is created, then the answer is `status` (default 500)",
    "error_before_create": "the answer is `status` (default 500); no order is created",
    "hang_after_create": "the order is created, then the answer waits `hang_s` s (default 5)",
    "rate_limited": "429 with `Remaining-Req: ...; sec=0`; no order is created",
    "blocked": "418 (blocked after repeated 429s); no order is created",
}
CREATING_KINDS = ("error_after_create", "hang_after_create")
MOST_QUEUED = 1000
LONGEST_HANG_S = 60.0


class FaultRefusedError(ValueError):
    """A fault request names an unknown kind or a value out of its range."""


@dataclass(frozen=True)
class OrderFault:
    """One spoilt order POST: its kind, the status answered and, for a hang, how long."""

    kind: str
    status: int
    hang_s: float = 0.0

    @property
    def is_after_create(self) -> bool:
        """Return whether the order is created before the answer is spoilt."""
        return self.kind in CREATING_KINDS


class OrderFaults:
    """The queue of faults waiting for the next order POSTs; what became of every order POST.

    A POST counts in `order_posts` once it arrived; of those, `unread` lost their client before
    the body was read (a process killed mid-request: nothing was judged or created), and
    `to_book` passed the rate gate and the signature check and were judged by the order book,
    which created the order or refused it (`refused`, by Upbit error name). The rate gate's
    429s are the `RateLimiter`'s to count.
    """

    def __init__(self) -> None:
        self._queue: deque[OrderFault] = deque()
        self._lock = threading.Lock()
        self.served = 0
        self.order_posts = 0
        self.unread = 0
        self.to_book = 0
        self.refused: dict[str, int] = {}

    def add(self, body: Any) -> None:
        """Queue `count` faults from `{"kind", "count"?, "status"?, "hang_s"?}`.

        Raises:
            FaultRefusedError: the kind is unknown or a value is out of range.
        """
        if not isinstance(body, dict) or body.get("kind") not in FAULT_KINDS:
            kind = body.get("kind") if isinstance(body, dict) else body
            raise FaultRefusedError(f"kind {kind!r} is not one of {', '.join(FAULT_KINDS)}")
        kind = body["kind"]
        count = _number(body, "count", 1, int, 1, MOST_QUEUED)
        status = {"rate_limited": 429, "blocked": 418, "hang_after_create": 201}.get(kind)
        if status is None:
            status = _number(body, "status", 500, int, 500, 599)
        hang_s = _number(body, "hang_s", 5.0, float, 0.0, LONGEST_HANG_S)
        fault = OrderFault(kind, status, hang_s if kind == "hang_after_create" else 0.0)
        with self._lock:
            if len(self._queue) + count > MOST_QUEUED:
                raise FaultRefusedError(f"at most {MOST_QUEUED} faults may wait at once")
            self._queue.extend([fault] * count)

    def take(self) -> OrderFault | None:
        """Count one order POST; return its fault, or None when none waits."""
        with self._lock:
            self.order_posts += 1
            if not self._queue:
                return None
            self.served += 1
            return self._queue.popleft()

    def note_unread(self) -> None:
        """Count one order POST whose client was gone before its body was read."""
        with self._lock:
            self.order_posts += 1
            self.unread += 1

    def note_to_book(self) -> None:
        """Count one order POST that reached the order book."""
        with self._lock:
            self.to_book += 1

    def note_refused(self, name: str) -> None:
        """Count one order POST the order book refused, by its Upbit error name."""
        with self._lock:
            self.refused[name] = self.refused.get(name, 0) + 1

    def clear(self) -> None:
        """Drop every waiting fault."""
        with self._lock:
            self._queue.clear()

    def body(self) -> dict[str, Any]:
        """Return GET /sandbox/faults: the waiting faults in order, faults served, the POSTs."""
        with self._lock:
            return {
                "pending": [asdict(f) for f in self._queue],
                "served": self.served,
                "order_posts": self.order_posts,
                "order_posts_unread": self.unread,
                "order_posts_to_book": self.to_book,
                "order_posts_refused": dict(sorted(self.refused.items())),
            }


def _number(
    body: dict[str, Any], key: str, default: Any, kind: type, least: float, most: float
) -> Any:
    value = body.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or kind(value) != value:
        what = "an integer" if kind is int else "a number"
        raise FaultRefusedError(f"{key} {value!r} is not {what}")
    if not least <= value <= most:
        raise FaultRefusedError(f"{key} {value!r} is not in {least:g}-{most:g}")
    return kind(value)
