"""P&L per trading day and strategy, summed from the ledger's fill settlements (daily_pnl.csv).

The day is the settlement's own `trading_day` (the session date, `domain/sessions.py`), never
recomputed from a time: the table then agrees with the ledger's daily loss figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from domain.orders.terms import OrderSide

ZERO = Decimal(0)
ALL_STRATEGIES = "ALL"
"""The strategy id of each trading day's total row."""

DAILY_PNL_COLUMNS = (
    "trading_day",
    "strategy_id",
    "fills",
    "buy_krw",
    "sell_krw",
    "fees_krw",
    "realised_pnl_krw",
    "net_pnl_krw",
    "cash_delta_krw",
    "cumulative_net_pnl_krw",
)


@dataclass
class DayFigures:
    """The sums of one strategy's (or all strategies') settled fills on one trading day."""

    fills: int = 0
    buy_krw: Decimal = ZERO
    sell_krw: Decimal = ZERO
    fees_krw: Decimal = ZERO
    realised_pnl_krw: Decimal = ZERO
    cash_delta_krw: Decimal = ZERO

    def add(self, settled: dict[str, Any]) -> None:
        """Add one ledger.fill.settled event; buys and sells are counted gross of fees."""
        cash, fee = Decimal(settled["cash_delta_krw"]), Decimal(settled["fee_krw"])
        # Portfolio.settle_fill: a bid pays funds + fee, an ask receives funds - fee.
        if settled["side"] == OrderSide.BID.value:
            self.buy_krw += -cash - fee
        else:
            self.sell_krw += cash + fee
        self.fills += 1
        self.fees_krw += fee
        self.realised_pnl_krw += Decimal(settled["realised_pnl_krw"])
        self.cash_delta_krw += cash

    @property
    def net_pnl_krw(self) -> Decimal:
        """Return the realised P&L less fees, as `Portfolio.FillSettled.apply` counts a day."""
        return self.realised_pnl_krw - self.fees_krw


class DailyPnl:
    """The daily P&L rows of the settlements in a bundle."""

    def __init__(self) -> None:
        self._days: dict[tuple[str, str], DayFigures] = {}

    def add(self, settled: dict[str, Any]) -> None:
        """Count one ledger.fill.settled event in its strategy's day and in the day's total."""
        for strategy_id in (settled["strategy_id"], ALL_STRATEGIES):
            key = (settled["trading_day"], strategy_id)
            self._days.setdefault(key, DayFigures()).add(settled)

    def rows(self) -> list[tuple[object, ...]]:
        """Return the rows by day, each day's strategies by id and then its total row.

        The cumulative net runs per strategy (and for the totals) over the bundle's days only.
        """
        rows: list[tuple[object, ...]] = []
        cumulative: dict[str, Decimal] = {}
        for day, strategy_id in sorted(self._days, key=_day_order):
            figures = self._days[(day, strategy_id)]
            net = figures.net_pnl_krw
            cumulative[strategy_id] = cumulative.get(strategy_id, ZERO) + net
            rows.append(
                (
                    day,
                    strategy_id,
                    figures.fills,
                    figures.buy_krw,
                    figures.sell_krw,
                    figures.fees_krw,
                    figures.realised_pnl_krw,
                    net,
                    figures.cash_delta_krw,
                    cumulative[strategy_id],
                )
            )
        return rows


def _day_order(key: tuple[str, str]) -> tuple[str, bool, str]:
    day, strategy_id = key
    return day, strategy_id == ALL_STRATEGIES, strategy_id
