"""Performance metrics of an equity curve and its trades (strategies.md "Metrics").

Equity is one point per candle close; daily equity the points at session ends. Returns use
daily equity only (the initial capital is not a point). Ratios are floats; money stays Decimal.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import numpy as np

from domain.metrics.round_trips import RoundTrip, TradeFill

DAYS_PER_YEAR = 365
Floats = np.ndarray[Any, np.dtype[np.float64]]


def performance(
    *,
    equity: Floats,
    start_equity: Decimal,
    end_equity: Decimal,
    first_time: datetime,
    last_time: datetime,
    session_end_indexes: Sequence[int],
    position_qty: Floats,
    fills: Sequence[TradeFill],
    trips: Sequence[RoundTrip],
) -> dict[str, Any]:
    """Return every metric of strategies.md for one equity curve (one strategy or the sum).

    `equity` and `position_qty` hold one value per candle close; the exact first and last
    equity give the returns.
    """
    if not equity.size:
        return {}
    start, end = start_equity, end_equity
    days = (last_time - first_time).total_seconds() / 86400
    ratio = float(end / start) if start else math.nan
    daily = equity[np.asarray(session_end_indexes, dtype=np.int64)]
    returns = daily[1:] / daily[:-1] - 1 if len(daily) > 1 else np.array([])
    curve = equity
    peaks = np.maximum.accumulate(curve)
    wins = [t for t in trips if t.net_pnl_krw > 0]
    gross_profit = sum((t.net_pnl_krw for t in wins), Decimal(0))
    gross_loss = -sum((t.net_pnl_krw for t in trips if t.net_pnl_krw < 0), Decimal(0))
    return {
        "total_return": float(end / start - 1) if start else None,
        "cagr": ratio ** (DAYS_PER_YEAR / days) - 1 if days > 0 and ratio > 0 else None,
        "sharpe": _sharpe(returns),
        "sortino": _sortino(returns),
        "max_drawdown": float(np.max(1 - curve / peaks)) if curve.size else 0.0,
        "round_trips": len(trips),
        "win_rate": len(wins) / len(trips) if trips else None,
        "profit_factor": float(gross_profit / gross_loss) if gross_loss else None,
        "fees_krw": str(sum((f.fee_krw for f in fills), Decimal(0))),
        "exposure": float(np.count_nonzero(position_qty)) / position_qty.size,
        "turnover_krw": str(sum((f.qty_btc * f.price_krw for f in fills), Decimal(0))),
        "daily_points": int(daily.size),
    }


def _sharpe(returns: np.ndarray[Any, np.dtype[np.float64]]) -> float | None:
    if returns.size < 2:
        return None
    std = float(np.std(returns, ddof=1))
    return float(np.mean(returns)) / std * math.sqrt(DAYS_PER_YEAR) if std > 0 else None


def _sortino(returns: np.ndarray[Any, np.dtype[np.float64]]) -> float | None:
    if returns.size == 0:
        return None
    downside = math.sqrt(float(np.mean(np.minimum(returns, 0) ** 2)))
    return float(np.mean(returns)) / downside * math.sqrt(DAYS_PER_YEAR) if downside > 0 else None
