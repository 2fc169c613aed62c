"""A client of the sandbox's control endpoints: its clock, outages, faults, and restoring a run.

A trading system driving a paced sandbox (`ledger sandbox --paced`) calls `release(until)` after
processing each candle; tests also set the clock and queue faults for the next order POSTs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx


class SandboxControlError(Exception):
    """The sandbox could not be reached, or answered a control request in an unknown shape."""


class SandboxControlRefusedError(SandboxControlError):
    """The sandbox refused a control request (e.g. `until_before_now`); `name` says which rule."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"the sandbox refused: {name}: {message}")
        self.name = name


@dataclass(frozen=True)
class SandboxClockStatus:
    """GET /sandbox/clock: the market's now, hold point, speed and the file's candle span (UTC)."""

    now: datetime
    until: datetime | None
    """Where a paced clock holds; None when it runs freely."""
    speed: float
    is_frozen: bool
    first_candle_at: datetime
    last_candle_at: datetime
    """Open time of the file's last candle."""

    @property
    def is_used_up(self) -> bool:
        """Return whether the file's last candle has closed (no candle is left to come)."""
        return self.now >= self.last_candle_at + timedelta(minutes=1)


@dataclass(frozen=True)
class OrderPostCounts:
    """What became of the order POSTs the sandbox received (GET /sandbox/faults)."""

    posts: int
    """Every order POST that arrived."""
    unread: int
    """Those whose client was gone before the body was read: nothing judged or created."""
    rate_limited: int
    """Those the rate gate answered 429 or 418: nothing judged or created."""
    to_book: int
    """Those the order book judged: each created an order, or was refused (`refused`)."""
    refused: dict[str, int]
    """The order book's refusals, by Upbit error name."""


class SandboxControl:
    """Talks to the control endpoints of the sandbox at `base_url` (one kept-alive connection)."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float = 5.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"), timeout=timeout_s, transport=transport
        )

    def close(self) -> None:
        """Close the connection."""
        self._http.close()

    def __enter__(self) -> SandboxControl:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # The clock.
    def status(self) -> SandboxClockStatus:
        """Return the clock's state and the file's first and last candle."""
        return _status(self._call("GET", "/sandbox/clock"))

    def release(self, until: datetime | None) -> SandboxClockStatus:
        """Let a paced clock run at its speed up to `until` and hold there (None: run freely).

        Raises:
            SandboxControlRefusedError: `until` is before the clock's now (`until_before_now`).
        """
        at = None if until is None else _iso(until)
        return _status(self._call("POST", "/sandbox/clock", {"until": at}))

    def set_clock(self, at: datetime, *, frozen: bool | None = None) -> SandboxClockStatus:
        """Jump the clock to `at`; `frozen` stops or restarts it."""
        body: dict[str, Any] = {"at": _iso(at)}
        if frozen is not None:
            body["frozen"] = frozen
        return _status(self._call("POST", "/sandbox/clock", body))

    def restore(
        self,
        access_key: str,
        requests: list[dict[str, Any]],
        clock: datetime,
        balances: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Fund a fresh sandbox, serve a run's past order requests on it, hold its clock there.

        `balances` are the free amounts it starts from; `clock` is where it holds. Return the
        counts (`placed`, `cancelled`, `skipped`) and the clock's state.

        Raises:
            SandboxControlRefusedError: `restore_refused`, naming the request and the rule.
        """
        body: dict[str, Any] = {"access_key": access_key, "requests": requests}
        body.update(clock=_iso(clock), balances=balances or {})
        answer: dict[str, Any] = self._call("POST", "/sandbox/restore", body)
        return answer

    # Outages and order faults.
    def outage(self, mode: str) -> None:
        """Set the exchange's outage: `down` (503), `maintenance` (403 market_offline), `none`."""
        self._call("POST", "/sandbox/outage", {"mode": mode})

    def faults(
        self,
        kind: str,
        *,
        count: int = 1,
        status: int | None = None,
        hang_s: float | None = None,
    ) -> list[dict[str, Any]]:
        """Spoil the next `count` order POSTs with fault `kind`; return the waiting faults.

        Kinds: error_after_create, error_before_create (with `status`, default 500),
        hang_after_create (with `hang_s`), rate_limited (429), blocked (418).
        """
        body: dict[str, Any] = {"kind": kind, "count": count}
        if status is not None:
            body["status"] = status
        if hang_s is not None:
            body["hang_s"] = hang_s
        return _pending(self._call("POST", "/sandbox/faults", body))

    def clear_faults(self) -> None:
        """Drop every waiting fault."""
        self._call("DELETE", "/sandbox/faults")

    def pending_faults(self) -> list[dict[str, Any]]:
        """Return the faults still waiting for an order POST, in order."""
        return _pending(self._call("GET", "/sandbox/faults"))

    def order_posts(self) -> int:
        """Return how many order POSTs have reached the sandbox (refused ones included)."""
        return self.order_post_counts().posts

    def order_post_counts(self) -> OrderPostCounts:
        """Return what became of the order POSTs that have reached the sandbox."""
        body = self._call("GET", "/sandbox/faults")
        answer: dict[str, Any] = body if isinstance(body, dict) else {}
        numbers = [
            answer.get(f"order_posts{k}", "") for k in ("", "_unread", "_rate_limited", "_to_book")
        ]
        refused = answer.get("order_posts_refused")
        if not all(isinstance(n, int) for n in numbers) or not isinstance(refused, dict):
            raise SandboxControlError(f"the faults answer {body!r} lacks the order POST counts")
        posts, unread, rate_limited, to_book = map(int, numbers)
        return OrderPostCounts(posts, unread, rate_limited, to_book, refused)

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        try:
            response = self._http.request(method, path, json=body)
        except httpx.HTTPError as error:
            raise SandboxControlError(f"{method} {path} failed: {error}") from None
        try:
            answer = response.json()
        except ValueError:
            raise SandboxControlError(
                f"{method} {path} answered {response.status_code} without JSON: "
                f"{response.text[:200]!r}"
            ) from None
        if response.status_code >= 400:
            problem = answer.get("error") if isinstance(answer, dict) else None
            if not isinstance(problem, dict):
                raise SandboxControlError(f"{method} {path} answered {response.status_code}")
            raise SandboxControlRefusedError(str(problem.get("name")), str(problem.get("message")))
        return answer


def _iso(at: datetime) -> str:
    if at.tzinfo is None:
        raise ValueError(f"time {at.isoformat()} has no zone; give UTC")
    return at.astimezone(UTC).isoformat()


def _status(body: Any) -> SandboxClockStatus:
    try:
        until = body["until"]
        return SandboxClockStatus(
            now=_utc(body["now"]),
            until=None if until is None else _utc(until),
            speed=float(body["speed"]),
            is_frozen=bool(body["frozen"]),
            first_candle_at=_utc(body["first_candle_at"]),
            last_candle_at=_utc(body["last_candle_at"]),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise SandboxControlError(f"the clock's answer {body!r} is malformed: {error}") from None


def _utc(text: Any) -> datetime:
    value = datetime.fromisoformat(str(text))
    if value.tzinfo is None:
        raise ValueError(f"time {text!r} has no zone")
    return value.astimezone(UTC)


def _pending(body: Any) -> list[dict[str, Any]]:
    pending = body.get("pending") if isinstance(body, dict) else None
    if not isinstance(pending, list):
        raise SandboxControlError(f"the faults answer {body!r} has no pending list")
    return pending
