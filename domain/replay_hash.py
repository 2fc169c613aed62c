"""The replay hash: sha256 over the canonical JSON of the decision events, in log order.

Decision events are signals, order events (placed, accepted, fills, cancels, rejects) and the
risk monitor's findings (limit breaches and trading state changes). The library's `timestamp`
(equal to `occurred_at`) and the originator's code location are left out, so the hash names
what was decided, not where the code lives.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

DECISION_TOPIC_PREFIXES = ("strategy.signal.", "order.", "risk.limit.breached", "risk.trading.")
LEFT_OUT_FIELDS = frozenset({"timestamp", "originator_topic"})


def is_decision_topic(topic: str) -> bool:
    """Return True for the bus names whose events a replay must reproduce."""
    return topic.startswith(DECISION_TOPIC_PREFIXES)


def canonical_json(topic: str, fields: dict[str, Any]) -> str:
    """Return the event as canonical JSON: sorted keys, decimals and times as strings."""
    body = {k: _plain(v) for k, v in fields.items() if k not in LEFT_OUT_FIELDS}
    body["topic"] = topic
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def replay_hash(events: Iterable[tuple[str, dict[str, Any]]]) -> str:
    """Return the hex sha256 over (topic, fields) of the decision events, in order."""
    return replay_digest(events)[0]


def replay_digest(events: Iterable[tuple[str, dict[str, Any]]]) -> tuple[str, int]:
    """Return the replay hash of the decision events and how many there were."""
    lines = [canonical_json(topic, fields) for topic, fields in events if is_decision_topic(topic)]
    return canonical_hash(lines), len(lines)


def canonical_hash(lines: Iterable[str]) -> str:
    """Return the replay hash of decisions given as canonical JSON: sha256 over each line."""
    digest = hashlib.sha256()
    for line in lines:
        digest.update(line.encode())
        digest.update(b"\n")
    return digest.hexdigest()


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
