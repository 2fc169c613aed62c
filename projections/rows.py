"""Read-model row operations: what a projection asks the store to do for one event.

Projections are pure: an event and its log position in, row operations out. The store (an
adapter) runs them in the order given, inside the projector's transaction, so the projection
logic is tested without a database and the same code rebuilds a read model beside the live one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from uuid import UUID


@dataclass(frozen=True)
class Insert:
    """Add a row."""

    table: str
    values: Mapping[str, object]


@dataclass(frozen=True)
class Update:
    """Change the row with `key`: set `values`, add `add` to numeric columns."""

    table: str
    key: Mapping[str, object]
    values: Mapping[str, object] = field(default_factory=dict)
    add: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Upsert:
    """Insert `key` + `values` + `add`; if the row exists, set `values` and add `add`."""

    table: str
    key: Mapping[str, object]
    values: Mapping[str, object] = field(default_factory=dict)
    add: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class CandleMinute:
    """One recorded one-minute candle of an hour: minute 0-59, exact prices, synthetic flag."""

    minute: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume_btc: Decimal
    value_krw: Decimal
    is_synthetic: bool


@dataclass(frozen=True)
class WriteCandleMinutes:
    """Write minutes of the candle hour `hour_id` (replacing existing ones when `replace`)."""

    hour_id: UUID
    minutes: tuple[CandleMinute, ...]
    replace: bool = False


@dataclass(frozen=True)
class RollUpCandles:
    """Recompute the hour candle of `hour_id`, and its day, from the minute rows."""

    hour_id: UUID


RowOp = Insert | Update | Upsert | WriteCandleMinutes | RollUpCandles
