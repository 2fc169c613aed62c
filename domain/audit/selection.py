"""Which of the log's events an audit bundle carries in full: a range, a market, a strategy.

The bundle always carries every event's digest (so its chain is whole); the selection decides
which events it carries as full JSON lines. A bound is a log position (an integer) or a time:
an ISO 8601 instant with its offset, or a date, which names that trading day's session
([00:00 UTC, 24:00 UTC) = [09:00 KST, 09:00 KST next day), domain/sessions.py). `--from` is
inclusive; `--to` is inclusive for a position and a date (the whole day), exclusive for an
instant. An event names a market or a strategy in its own fields (`market`, `strategy_id`, a
run's `strategies`) or in its aggregate's first event (an order's fills belong to the order's
market and strategy); an event that names none (risk, capital, checkpoints) is account-wide
and always selected.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from domain.clock import require_utc
from domain.errors import InvalidExportSelectionError
from domain.sessions import session_end, session_start

Bound = int | datetime
_POSITION = re.compile(r"[0-9]+")


def parse_bound(text: str, *, is_end: bool) -> Bound:
    """Return a range bound from its text: a position, an instant with offset, or a date.

    Raises:
        InvalidExportSelectionError: the text is none of these, or an instant has no offset.
    """
    value = text.strip()
    if _POSITION.fullmatch(value):
        position = int(value)
        if position < 1:
            raise InvalidExportSelectionError(f"position {text!r} must be 1 or more")
        return position
    if len(value) == 10:
        try:
            day = date.fromisoformat(value)
        except ValueError:
            pass
        else:
            return session_end(day) if is_end else session_start(day)
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidExportSelectionError(
            f"{text!r} is not a log position, a date (YYYY-MM-DD: that trading day) or an "
            "ISO 8601 instant with its offset (2026-03-02T09:00:00+09:00)"
        ) from None
    if at.tzinfo is None:
        raise InvalidExportSelectionError(
            f"instant {text!r} has no offset; write it as {value}+09:00 (KST) or {value}Z (UTC)"
        )
    return require_utc(at)


@dataclass(frozen=True)
class BundleSelection:
    """The events a bundle carries in full (None: no bound or filter of that kind)."""

    from_position: int | None = None
    to_position: int | None = None
    """Inclusive."""
    from_time: datetime | None = None
    to_time: datetime | None = None
    """Exclusive."""
    market: str | None = None
    strategy: str | None = None

    @classmethod
    def of(
        cls,
        start: Bound | None = None,
        end: Bound | None = None,
        market: str | None = None,
        strategy: str | None = None,
    ) -> BundleSelection:
        """Return the selection of bounds and filters, refusing an empty or reversed one.

        Raises:
            InvalidExportSelectionError: the range is empty, or a filter is blank.
        """
        for name, value in (("market", market), ("strategy", strategy)):
            if value is not None and not value.strip():
                raise InvalidExportSelectionError(f"the {name} filter must not be blank")
        selection = cls(
            start if isinstance(start, int) else None,
            end if isinstance(end, int) else None,
            start if isinstance(start, datetime) else None,
            end if isinstance(end, datetime) else None,
            market.strip() if market else None,
            strategy.strip() if strategy else None,
        )
        a, b = selection.from_position, selection.to_position
        if a is not None and b is not None and a > b:
            raise InvalidExportSelectionError(
                f"the range's start (position {a}) is after its end (position {b})"
            )
        s, e = selection.from_time, selection.to_time
        if s is not None and e is not None and s >= e:
            raise InvalidExportSelectionError(
                f"the range's start {s.isoformat()} is not before its end {e.isoformat()}: "
                "it holds no time"
            )
        return selection

    @classmethod
    def parse(
        cls,
        start: str | None = None,
        end: str | None = None,
        market: str | None = None,
        strategy: str | None = None,
    ) -> BundleSelection:
        """Return the selection of `--from`/`--to` texts (see `parse_bound`) and filters.

        Raises:
            InvalidExportSelectionError: a bound is malformed, the range is empty or reversed,
                or a filter is blank.
        """
        return cls.of(
            None if start is None else parse_bound(start, is_end=False),
            None if end is None else parse_bound(end, is_end=True),
            market,
            strategy,
        )

    @property
    def needs_fields(self) -> bool:
        """Return True when choosing an event needs its fields (not just its position)."""
        bounds = (self.from_time, self.to_time, self.market, self.strategy)
        return any(v is not None for v in bounds)

    @property
    def names_aggregates(self) -> bool:
        """Return True when an event's aggregate's first event takes part in choosing it."""
        return self.market is not None or self.strategy is not None

    def holds_position(self, position: int) -> bool:
        """Return True when `position` is within the position bounds."""
        if self.from_position is not None and position < self.from_position:
            return False
        return self.to_position is None or position <= self.to_position

    def selects(self, fields: Mapping[str, Any], created: Mapping[str, Any] | None) -> bool:
        """Return True when the event of `fields` (at a position within bounds) is selected."""
        if self.from_time is not None or self.to_time is not None:
            at = datetime.fromisoformat(str(fields["occurred_at"]))
            if self.from_time is not None and at < self.from_time:
                return False
            if self.to_time is not None and at >= self.to_time:
                return False
        return self.names_ours(fields) and (created is None or self.names_ours(created))

    def names_ours(self, fields: Mapping[str, Any]) -> bool:
        """Return True unless `fields` name another market or strategy than the filters'."""
        if self.market is not None:
            market = fields.get("market")
            if isinstance(market, str) and market != self.market:
                return False
        if self.strategy is not None:
            strategy = fields.get("strategy_id")
            if isinstance(strategy, str) and strategy != self.strategy:
                return False
            strategies = fields.get("strategies")
            if isinstance(strategies, dict) and self.strategy not in strategies:
                return False
        return True

    @property
    def is_bounded(self) -> bool:
        """Return True when a bound or a filter narrows the log (a bundle of nothing is refused)."""
        return any(value is not None for value in self.as_dict().values())

    def describe(self) -> str:
        """Return the bounds and filters given, e.g. `from 999999`."""
        names = {"from_position": "from", "to_position": "to", "from_time": "from"}
        names |= {"to_time": "to", "market": "market", "strategy": "strategy"}
        given = [f"{names[k]} {v}" for k, v in self.as_dict().items() if v is not None]
        return ", ".join(given)

    def as_dict(self) -> dict[str, Any]:
        """Return the selection as plain values (the manifest's `selection`)."""
        return {
            "from_position": self.from_position,
            "to_position": self.to_position,
            "from_time": None if self.from_time is None else self.from_time.isoformat(),
            "to_time": None if self.to_time is None else self.to_time.isoformat(),
            "market": self.market,
            "strategy": self.strategy,
        }
