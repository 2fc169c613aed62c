"""The CandleHour aggregate: the closed 1-minute candles of one market in one UTC hour.

Candles are facts from the exchange, kept as the exact text the source gave (no float, no
re-rounding). One event can carry many candles (a page of a backfill, an hour of a file), so a
bulk import writes ~60 candles per event; live ingest appends each closed minute as it comes.
A candle already recorded is never overwritten: an identical one is ignored, a different one is
refused, or recorded as an explicit correction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import NamedTuple
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.candles.candle import Candle
from domain.clock import to_kst
from domain.errors import CandleConflictError, InvalidCandleError
from domain.events import Cause, LedgerCreated, LedgerEvent, create_aggregate
from domain.ids import derive_id

ONE_HOUR = timedelta(hours=1)


class CandleRow(NamedTuple):
    """One candle as text: `minute,open,high,low,close,volume,value,synthetic` (minute 0-59).

    The numbers are kept exactly as the source wrote them; `text` is what events store.
    """

    minute: int
    text: str

    @classmethod
    def of(cls, minute: int, fields: Sequence[str], *, is_synthetic: bool = False) -> CandleRow:
        """Return the row of a candle given its open, high, low, close, volume[, value]."""
        values = list(fields) if len(fields) == 6 else [*fields, "0"]
        if len(values) != 6:
            raise InvalidCandleError(f"candle fields {list(fields)} are not o,h,l,c,v[,value]")
        return cls(minute, ",".join((str(minute), *values, "1" if is_synthetic else "0")))

    @classmethod
    def parse(cls, text: str) -> CandleRow:
        """Return the row stored as `text`."""
        parts = text.split(",")
        if len(parts) != 8:
            raise InvalidCandleError(f"candle row {text!r} does not have 8 fields")
        return cls(int(parts[0]), text)

    def candle(self, hour_start: datetime) -> Candle:
        """Return the candle with exact Decimal values."""
        parts = self.text.split(",")
        o, h, lo, c, v, value = (Decimal(x) for x in parts[1:7])
        at = hour_start + timedelta(minutes=self.minute)
        return Candle(at, o, h, lo, c, v, value, parts[7] == "1")


def hour_start_of(at: datetime) -> datetime:
    """Return the UTC hour containing `at`."""
    moment = at.astimezone(UTC)
    return moment.replace(minute=0, second=0, microsecond=0)


def candle_hour_id(market: str, hour_start: datetime) -> UUID:
    """Return the id of a market's candle hour."""
    return derive_id("candle-hour", market, hour_start.astimezone(UTC).isoformat())


def content_hash(rows: Sequence[str]) -> str:
    """Return the sha256 of the rows joined by newlines."""
    return hashlib.sha256("\n".join(rows).encode()).hexdigest()


def is_value_added(known: str, new: str) -> bool:
    """Return True when `new` differs from `known` only by a value where `known` has 0."""
    was, now = known.split(","), new.split(",")
    return (
        len(was) == len(now) == 8
        and was[:6] + was[7:] == now[:6] + now[7:]
        and Decimal(was[6]) == 0 != Decimal(now[6])
    )


class CandleHour(Aggregate):
    """The candles of one market in one UTC hour, minute by minute."""

    class Opened(LedgerCreated):
        """The first candles of a market's hour arrived."""

        TOPIC = "market.candle_hour.opened"
        market: str
        hour_start: datetime
        hour_start_kst: datetime

        def apply(self, hour: CandleHour) -> None:
            """Evolve the hour's state by this event."""
            hour.market = self.market
            hour.hour_start = self.hour_start
            hour.rows = {}

    class Ingested(LedgerEvent):
        """One or more closed candles were recorded (rows as the source wrote them)."""

        TOPIC = "market.candle.ingested"
        rows: list[str]
        count: int
        content_sha256: str
        source: str

        def apply(self, hour: CandleHour) -> None:
            """Evolve the hour's state by this event."""
            for text in self.rows:
                hour.rows[text.split(",", 1)[0]] = text

    class Corrected(LedgerEvent):
        """A recorded candle was replaced by the source's corrected values, explicitly."""

        TOPIC = "market.candle.corrected"
        previous: str
        corrected: str
        source: str
        reason: str

        def apply(self, hour: CandleHour) -> None:
            """Evolve the hour's state by this event."""
            hour.rows[self.corrected.split(",", 1)[0]] = self.corrected

    market: str
    hour_start: datetime
    rows: dict[str, str]
    """Minute (as text) -> the stored row."""

    def __init__(self) -> None:
        """State is set by the Opened event; see `open`."""

    @classmethod
    def open(cls, *, market: str, hour_start: datetime, cause: Cause) -> CandleHour:
        """Open the record of a market's hour."""
        start = hour_start_of(hour_start)
        if start != hour_start.astimezone(UTC):
            raise InvalidCandleError(f"hour start {hour_start.isoformat()} is not a whole hour")
        return create_aggregate(
            cls,
            cls.Opened,
            id=candle_hour_id(market, start),
            market=market,
            hour_start=start,
            hour_start_kst=to_kst(start),
            **cause.event_fields(),
        )

    def ingest(
        self, rows: Sequence[CandleRow], *, source: str, correct: bool, cause: Cause
    ) -> tuple[int, int]:
        """Record the new rows; return (recorded, corrected). Identical rows are skipped.

        Raises:
            CandleConflictError: a row differs from the recorded one and `correct` is False.
        """
        new: list[str] = []
        corrections: list[tuple[str, str]] = []
        if not self.rows and not self.pending_events[1:]:
            new = self._all_new(rows)
            rows = ()
        for row in sorted(rows, key=lambda r: r.minute):
            if not 0 <= row.minute < 60:
                raise InvalidCandleError(f"candle minute {row.minute} is not in 0-59")
            known = self.rows.get(str(row.minute))
            if known is None:
                new.append(row.text)
            elif known != row.text:
                if not correct:
                    at = self.hour_start + timedelta(minutes=row.minute)
                    why = (
                        "; only its value differs: the recorded candle has value 0, as a source "
                        "without a value column records it"
                        if is_value_added(known, row.text)
                        else ""
                    )
                    raise CandleConflictError(
                        f"{self.market} candle {at.isoformat()} is recorded as {known!r}; "
                        f"{source} has {row.text!r} (rows: minute,o,h,l,c,volume,value,"
                        f"synthetic){why}; nothing was changed: re-run with corrections allowed "
                        "to record it as a correction"
                    )
                corrections.append((known, row.text))
        if new:
            self.trigger_event(
                self.Ingested,
                rows=new,
                count=len(new),
                content_sha256=content_hash(new),
                source=source,
                **cause.event_fields(),
            )
        for previous, corrected in corrections:
            self.trigger_event(
                self.Corrected,
                previous=previous,
                corrected=corrected,
                source=source,
                reason=(
                    "the recorded candle had no value (0); the source gives one"
                    if is_value_added(previous, corrected)
                    else "source differs from the recorded candle"
                ),
                **cause.event_fields(),
            )
        return len(new), len(corrections)

    def _all_new(self, rows: Sequence[CandleRow]) -> list[str]:
        # A fresh hour: every row is new; only the minutes need checking.
        ordered = sorted(rows)
        minutes = [row.minute for row in ordered]
        if minutes and (minutes[0] < 0 or minutes[-1] > 59):
            raise InvalidCandleError(f"candle minute {minutes[0]}..{minutes[-1]} is not in 0-59")
        if len(set(minutes)) != len(minutes):
            raise InvalidCandleError(f"a minute of {self.hour_start.isoformat()} appears twice")
        return [row.text for row in ordered]

    def candles(self) -> list[Candle]:
        """Return the recorded candles, in minute order."""
        rows = sorted((CandleRow.parse(t) for t in self.rows.values()), key=lambda r: r.minute)
        return [row.candle(self.hour_start) for row in rows]
