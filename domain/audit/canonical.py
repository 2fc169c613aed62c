"""The canonical audit JSON of a recorded event: its log position, bus name and every field.

The event is rendered from what the log stores (its row and the library's JSON state), not from
the object the current code decodes: an upcaster added later changes what an old event decodes
to, and must not change that event's link. Values the library stored tagged
(`{"_type_": "decimal_str", "_data_": "1.5"}`) are rendered as their text, UUIDs in their
dashed form; the library's `timestamp` (a copy of `occurred_at`) and `originator_topic` (a code
location) are left out, as in the replay hash. Keys sorted, no spaces, UTF-8 as is.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

LEFT_OUT_FIELDS = frozenset({"timestamp", "originator_topic"})
ROW_FIELDS = ("position", "topic", "originator_id", "originator_version")


def canonical_audit_json(
    position: int, topic: str, originator_id: UUID | str, originator_version: int, state: bytes
) -> str:
    """Return the canonical audit JSON of the event stored at `position`.

    Raises:
        ValueError: the stored state is not a JSON object, or holds a row field's name.
    """
    fields = stored_fields(state)
    clash = fields.keys() & set(ROW_FIELDS)
    if clash:
        raise ValueError(f"the event at position {position} stores reserved fields {clash}")
    body = {k: v for k, v in fields.items() if k not in LEFT_OUT_FIELDS}
    body["position"] = position
    body["topic"] = topic
    body["originator_id"] = str(originator_id)
    body["originator_version"] = originator_version
    return canonical_dumps(body)


def canonical_dumps(body: dict[str, Any]) -> str:
    """Return `body` as canonical JSON: sorted keys, no spaces, non-ASCII kept."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def stored_fields(state: bytes) -> dict[str, Any]:
    """Return an event's stored JSON state with the library's tagged values as plain text.

    Raises:
        ValueError: the state is not a JSON object.
    """
    fields = json.loads(bytes(state).decode("utf-8"), object_hook=_untag)
    if not isinstance(fields, dict):
        raise ValueError("an event's stored state must be a JSON object")
    return fields


def _untag(obj: dict[str, Any]) -> Any:
    if len(obj) == 2 and "_type_" in obj and "_data_" in obj:
        data = obj["_data_"]
        if obj["_type_"] == "uuid_hex":
            return str(UUID(data))
        return data
    return obj
