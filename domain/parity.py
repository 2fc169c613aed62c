"""Parity of a trading run with a backtest: their decisions, flow by flow, without exchange ids.

A run on an exchange and a backtest of the same candles decide the same signals, orders and
fills, but the exchange names its orders and trades itself, its events carry its own actor, and
an order whose acknowledgement was lost is acknowledged a candle later (after a look-up), so
the log interleaves flows differently. The parity lines therefore leave out `actor`,
`exchange_order_id`, `trade_id`, failed sendings (`order.submission_failed`) and with them the
aggregate versions they shift, and group the decision events by flow: a signal, then the
events of the order it caused, in log order; flows in the order their signals were decided.
Numbers are compared as numbers: an exchange's JSON writes 27601000.0 where a file wrote
27601000, and each is kept as its source wrote it.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from domain.replay_hash import canonical_hash, canonical_json, is_decision_topic

EXCHANGE_FIELDS = frozenset({"actor", "exchange_order_id", "trade_id", "originator_version"})
"""Named by the exchange, or (versions) counting the failed sendings left out below."""
EXCHANGE_TOPICS = frozenset({"order.submission_failed"})
"""Facts of the way to the exchange, not decisions: a backtest has no failed sending."""
SIGNAL_TOPIC = "strategy.signal.created"


def parity_lines(events: Iterable[tuple[str, dict[str, Any]]]) -> list[str]:
    """Return the decision events as parity lines: by flow, exchange-assigned fields left out."""
    flows: dict[str, list[str]] = {}
    for topic, fields in events:
        if not is_decision_topic(topic) or topic in EXCHANGE_TOPICS:
            continue
        kept = {k: _number(v) for k, v in fields.items() if k not in EXCHANGE_FIELDS}
        flows.setdefault(flow_of(topic, fields), []).append(canonical_json(topic, kept))
    return [line for lines in flows.values() for line in lines]


def flow_of(topic: str, fields: dict[str, Any]) -> str:
    """Return the flow an event belongs to: a signal's own id, else its correlation id."""
    return str(fields["originator_id"] if topic == SIGNAL_TOPIC else fields["correlation_id"])


def _number(value: Any) -> Any:
    # An exchange writes 27601000.0 where a file wrote 27601000: the same number.
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return value


def parity_hash(events: Iterable[tuple[str, dict[str, Any]]]) -> tuple[str, int]:
    """Return the sha256 over the parity lines and how many there are."""
    lines = parity_lines(events)
    return canonical_hash(lines), len(lines)
