"""Candles and gap filling (strategies.md "Candle", "Gap-free stream")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from domain.candles.candle import Candle
from domain.candles.gaps import fill_gaps
from domain.errors import InvalidCandleError, ValueRuleError

T0 = datetime(2023, 1, 1, 0, 0, tzinfo=UTC)


def candle(minute: int, close: str = "100", *, low: str | None = None) -> Candle:
    price = D(close)
    return Candle.checked(
        T0 + timedelta(minutes=minute),
        price,
        price + 5,
        D(low) if low else price - 5,
        price,
        D("1.5"),
        D("150"),
    )


def test_candle_close_time_is_one_minute_after_its_open() -> None:
    assert candle(3).close_time == T0 + timedelta(minutes=4)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"open_time": T0 + timedelta(seconds=30)}, "is not minute-aligned"),
        ({"low": D("0")}, "has a price <= 0"),
        ({"high": D("99")}, "must bound open"),
        ({"volume": D("-1")}, "negative volume"),
        ({"open_time": datetime(2023, 1, 1)}, "has no time zone"),  # noqa: DTZ001
    ],
)
def test_candle_breaking_a_rule_is_refused_naming_it(kwargs: dict, message: str) -> None:  # type: ignore[type-arg]
    fields = {
        "open_time": T0,
        "open_": D(100),
        "high": D(105),
        "low": D(95),
        "close": D(100),
        "volume": D(1),
    }
    fields.update({("open_" if k == "open" else k): v for k, v in kwargs.items()})
    with pytest.raises(ValueRuleError, match=message):
        Candle.checked(**fields)


def test_fill_gaps_inserts_flat_synthetic_candles_at_the_previous_close() -> None:
    # Given candles at minutes 0 and 3 (minutes 1 and 2 had no trade)
    filled = list(fill_gaps([candle(0, "100"), candle(3, "110")]))
    # Then minutes 1 and 2 are flat at 100, volume 0, synthetic
    assert [c.open_time.minute for c in filled] == [0, 1, 2, 3]
    for gap in filled[1:3]:
        assert (gap.open, gap.high, gap.low, gap.close) == (D(100),) * 4
        assert (gap.volume, gap.value, gap.is_synthetic) == (D(0), D(0), True)
    assert not filled[0].is_synthetic and not filled[3].is_synthetic


@pytest.mark.parametrize(("second", "kind"), [(0, "duplicate"), (-1, "unsorted")])
def test_fill_gaps_refuses_duplicate_or_unsorted_minutes(second: int, kind: str) -> None:
    with pytest.raises(InvalidCandleError, match=kind):
        list(fill_gaps([candle(0), candle(5), candle(5 + second)]))
