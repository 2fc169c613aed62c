"""Cross-cutting numbers the architecture names, each with its source (style S2.3)."""

from __future__ import annotations

from decimal import Decimal

MIN_ORDER_TOTAL_KRW = Decimal("5000")
"""Minimum order total, both sides, KRW market (upbit-api.md §7.2, `min_total` in orders/chance)."""

MAX_ORDER_TOTAL_KRW = Decimal("1000000000")
"""Maximum order total, KRW market (upbit-api.md §7.2, `max_total`)."""

BTC_QUANTUM = Decimal("0.00000001")
"""Quantity precision: 8 decimal places of BTC (upbit-api.md §7.2)."""

DEFAULT_FEE_RATE = Decimal("0.0005")
"""Trading fee of the KRW market, maker and taker (upbit-api.md §7.2; strategies.md defaults)."""

MAX_KRW_FIGURE = Decimal("1000000000000000")
"""Sanity bound on any KRW figure (10^15 KRW), far above Upbit's 10^9 KRW maximum order."""

MAX_BTC_FIGURE = Decimal("21000000")
"""No quantity of BTC can exceed the 21 million that will ever exist."""
