"""The equity curve is the book's running totals marked at candle closes, exactly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from projections.equity_curve import BookState, Close, mark_to_market

NOON = datetime(2025, 1, 6, 12, 0, tzinfo=UTC)


def hours(n: int) -> datetime:
    return NOON + timedelta(hours=n)


def test_a_close_marks_every_change_at_or_before_it_and_none_after() -> None:
    states = [
        BookState(hours(0), Decimal("10000000"), Decimal(0)),
        BookState(hours(1), Decimal("4999750"), Decimal("0.1")),  # exactly at the 13:00 close
        BookState(hours(1) + timedelta(seconds=1), Decimal("9999500"), Decimal(0)),
    ]
    closes = [Close(hours(1), Decimal("50000000")), Close(hours(2), Decimal("51000000"))]
    points = mark_to_market(states, closes)
    assert [(p["cash_krw"], p["qty_btc"], p["equity_krw"]) for p in points] == [
        (Decimal("4999750"), Decimal("0.1"), Decimal("9999750")),
        (Decimal("9999500"), Decimal(0), Decimal("9999500")),
    ]
    assert points[0]["at_kst"].isoformat() == "2025-01-06T22:00:00+09:00"


def test_closes_before_the_first_change_give_no_point() -> None:
    states = [BookState(hours(2), Decimal("1000"), Decimal(0))]
    closes = [Close(hours(n), Decimal("100")) for n in range(4)]
    assert [p["at_utc"] for p in mark_to_market(states, closes)] == [hours(2), hours(3)]
    assert mark_to_market([], closes) == []


def test_equity_is_exact_decimal_arithmetic() -> None:
    states = [BookState(hours(0), Decimal("123.456789012345"), Decimal("0.00000003"))]
    (point,) = mark_to_market(states, [Close(hours(1), Decimal("33333333"))])
    assert point["equity_krw"] == Decimal("124.456789002345")  # + 0.99999999
    assert point["close_krw"] == Decimal("33333333")
