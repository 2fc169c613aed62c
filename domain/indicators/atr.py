"""True range and Wilder's average true range (strategies.md §2, "N (ATR)").

`TR_t = max(H_t - L_t, |H_t - C_{t-1}|, |L_t - C_{t-1}|)`, the very first bar `H - L`; the first
N is the mean of the first `days` TRs, then `N_t = ((days - 1) x N_{t-1} + TR_t) / days`.
"""

from __future__ import annotations

from decimal import Decimal


def true_range(high: Decimal, low: Decimal, previous_close: Decimal | None) -> Decimal:
    """Return the true range of a bar given the previous bar's close (None for the first)."""
    if previous_close is None:
        return high - low
    return max(high - low, abs(high - previous_close), abs(low - previous_close))


class WilderAtr:
    """Wilder's ATR, fed one complete bar at a time."""

    def __init__(self, days: int) -> None:
        if days < 1:
            raise ValueError(f"ATR days {days} must be at least 1")
        self.days = days
        self.value: Decimal | None = None
        """The current N, or None until `days` true ranges were seen."""
        self._first_trs: list[Decimal] = []
        self._previous_close: Decimal | None = None

    def add(self, high: Decimal, low: Decimal, close: Decimal) -> Decimal | None:
        """Add a complete bar; return the current N (None while warming up)."""
        tr = true_range(high, low, self._previous_close)
        self._previous_close = close
        if self.value is None:
            self._first_trs.append(tr)
            if len(self._first_trs) == self.days:
                total = Decimal(0)
                for value in self._first_trs:
                    total += value
                self.value = total / self.days
                self._first_trs = []
        else:
            self.value = ((self.days - 1) * self.value + tr) / self.days
        return self.value
