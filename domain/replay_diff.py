"""The first difference between recorded and replayed decisions, named field by field."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from domain.replay_hash import canonical_json


@dataclass(frozen=True)
class Decision:
    """One decision event as the replay hash sees it, with its log position if recorded."""

    topic: str
    canonical: str
    """The event's canonical JSON (domain/replay_hash.py)."""
    position: int | None = None

    @classmethod
    def of(cls, topic: str, fields: dict[str, Any], position: int | None = None) -> Decision:
        """Return the decision of an event's topic and fields."""
        return cls(topic, canonical_json(topic, fields), position)

    @property
    def body(self) -> dict[str, Any]:
        """Return the canonical fields as plain values."""
        body: dict[str, Any] = json.loads(self.canonical)
        return body

    def describe(self) -> str:
        """Return e.g. `order.filled of 4f0c… (correlation signal 9a1e…) at log position 812`."""
        body = self.body
        text = f"{self.topic} of {body.get('originator_id')}"
        if body.get("originator_version") is not None:
            text += f" v{body['originator_version']}"
        if self.position is not None:
            text += f" at log position {self.position}"
        return text


@dataclass(frozen=True)
class DecisionDifference:
    """Where a replay first decided otherwise than the log records."""

    index: int
    """The number of the decision (from 0) within the run."""
    recorded: Decision | None
    replayed: Decision | None
    fields: tuple[tuple[str, Any, Any], ...]
    """(field, recorded value, replayed value) of each differing field, when both exist."""

    def describe(self) -> str:
        """Return one line a person can act on."""
        n = self.index + 1
        if self.recorded is None:
            assert self.replayed is not None
            return (
                f"decision {n}: the replay decided {self.replayed.describe()}, which the log "
                "does not record (the log ends its decisions before)"
            )
        if self.replayed is None:
            return (
                f"decision {n}: the log records {self.recorded.describe()}, which the replay "
                "did not decide (the replay ends its decisions before)"
            )
        changes = "; ".join(
            f"{name}: recorded {_short(a)}, replayed {_short(b)}" for name, a, b in self.fields
        )
        return f"decision {n}: {self.recorded.describe()} differs: {changes}"


def first_difference(
    recorded: Sequence[Decision], replayed: Sequence[Decision]
) -> DecisionDifference | None:
    """Return the first decision where the two sequences differ, or None if they are equal."""
    for index in range(max(len(recorded), len(replayed))):
        was = recorded[index] if index < len(recorded) else None
        now = replayed[index] if index < len(replayed) else None
        if was is not None and now is not None and was.canonical == now.canonical:
            continue
        if was is None or now is None:
            return DecisionDifference(index, was, now, ())
        before, after = was.body, now.body
        names = sorted(set(before) | set(after))
        changed = tuple(
            (name, before.get(name), after.get(name))
            for name in names
            if before.get(name) != after.get(name)
        )
        return DecisionDifference(index, was, now, changed)
    return None


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "..."
