"""True range, Wilder's ATR, Donchian channels, moving average and noise ratio."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from domain.indicators.atr import WilderAtr, true_range
from domain.indicators.donchian import highest_high, lowest_low
from domain.indicators.moving_average import noise_ratio, simple_mean


def test_true_range_of_the_first_bar_is_high_minus_low() -> None:
    assert true_range(D(110), D(100), None) == D(10)


@pytest.mark.parametrize(
    ("high", "low", "prev_close", "expected"),
    [("110", "100", "105", "10"), ("110", "100", "90", "20"), ("110", "100", "125", "25")],
)
def test_true_range_takes_the_largest_of_the_three_ranges(
    high: str, low: str, prev_close: str, expected: str
) -> None:
    assert true_range(D(high), D(low), D(prev_close)) == D(expected)


def test_wilder_atr_starts_with_the_mean_then_smooths() -> None:
    # Given 3-day ATR over bars with TRs 10, 20 (|120-100|... ), computed by hand
    atr = WilderAtr(3)
    assert atr.add(D(110), D(100), D(105)) is None  # TR 10 (first bar: H - L)
    assert atr.add(D(120), D(110), D(115)) is None  # TR max(10, 15, 5) = 15
    assert atr.add(D(118), D(108), D(110)) == D("35") / 3  # TR max(10, 3, 7) = 10; (10+15+10)/3
    # Then Wilder: ((3 - 1) x 35/3 + TR) / 3 with TR = max(20, 20, 0) = 20 for H 130 L 110 C 110
    expected = (2 * (D("35") / 3) + D(20)) / 3
    assert atr.add(D(130), D(110), D(120)) == expected


def test_donchian_uses_the_previous_bars_only_when_there_are_enough() -> None:
    highs = [D(5), D(9), D(7), D(6)]
    assert highest_high(highs, 3) == D(9)
    assert highest_high(highs, 5) is None
    assert lowest_low([D(5), D(3), D(4)], 2) == D(3)


def test_simple_mean_and_noise_ratio_by_hand() -> None:
    assert simple_mean([D(1), D(2), D(3), D(6)], 3) == D("11") / 3
    assert simple_mean([D(1)], 2) is None
    assert noise_ratio(D(100), D(120), D(90), D(110)) == 1 - D(10) / D(30)
    assert noise_ratio(D(100), D(100), D(100), D(100)) == D(1)
