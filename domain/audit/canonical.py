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
from _json import encode_basestring, make_encoder
from typing import Any
from uuid import UUID

LEFT_OUT_FIELDS = frozenset({"timestamp", "originator_topic"})
ROW_FIELDS = ("position", "topic", "originator_id", "originator_version")
_ROW_FIELD_SET = frozenset(ROW_FIELDS)
_HEX_DIGITS = "0123456789abcdef"


def canonical_audit_json(
    position: int, topic: str, originator_id: UUID | str, originator_version: int, state: bytes
) -> str:
    """Return the canonical audit JSON of the event stored at `position`.

    Raises:
        ValueError: the stored state is not a JSON object, or holds a row field's name.
    """
    text, _ = canonical_audit_json_and_body(
        position, topic, originator_id, originator_version, state
    )
    return text


def canonical_audit_json_and_body(
    position: int, topic: str, originator_id: UUID | str, originator_version: int, state: bytes
) -> tuple[str, dict[str, Any]]:
    """Return the canonical audit JSON of the event stored at `position`, and the body it encodes.

    The body is the event's stored fields as `stored_fields` gives them, less the left-out
    fields, plus the row's fields: a caller that needs a field (`occurred_at`) reads it there
    rather than decoding the state again.

    Raises:
        ValueError: the stored state is not a JSON object, or holds a row field's name.
    """
    # `stored_fields`' decoding less json.loads' checks around the value (a BOM, whitespace,
    # extra data): a state that fails them, or is no object, goes to `stored_fields`, which
    # decides and raises as it always has. A bad tag raises here what it raises there.
    text = bytes(state).decode("utf-8")
    fields: Any
    try:
        fields, end = _DECODER.raw_decode(text)
    except json.JSONDecodeError:
        fields, end = None, -1
    if end != len(text) or type(fields) is not dict:
        fields = stored_fields(state)
    if not fields.keys().isdisjoint(_ROW_FIELD_SET):
        clash = fields.keys() & set(ROW_FIELDS)
        raise ValueError(f"the event at position {position} stores reserved fields {clash}")
    # The decoded state is this call's own: it becomes the body in place, without a copy.
    for name in LEFT_OUT_FIELDS:
        fields.pop(name, None)
    fields["position"] = position
    fields["topic"] = topic
    fields["originator_id"] = str(originator_id)
    fields["originator_version"] = originator_version
    if type(position) is int and type(topic) is str and type(originator_version) is int:
        # Decoded JSON plus these values is a tree of plain JSON types: nothing to check for
        # cycles or to hand to `default`, so the encoder json.dumps uses runs without them.
        return "".join(_encode_tree(fields, 0)), fields
    return canonical_dumps(fields), fields


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
            return _dashed_uuid(data)
        return data
    return obj


def _dashed_uuid(data: Any) -> str:
    # The library stores a UUID as its 32 lower-case hex digits, for which slicing gives
    # str(UUID(data)) several times faster; any other form goes to UUID (its text or its error).
    if type(data) is str and len(data) == 32 and not data.strip(_HEX_DIGITS):
        return f"{data[:8]}-{data[8:12]}-{data[12:16]}-{data[16:20]}-{data[20:]}"
    return str(UUID(data))


# Built once, not per event as json.loads and json.dumps with arguments do.
_DECODER = json.JSONDecoder(object_hook=_untag)
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
# The C encoder (CPython's `_json`) that json.dumps runs for `_ENCODER`, as
# JSONEncoder.iterencode builds it, less the cycle check (no markers).
_encode_tree = make_encoder(
    None,
    _ENCODER.default,
    encode_basestring,
    None,
    _ENCODER.key_separator,
    _ENCODER.item_separator,
    _ENCODER.sort_keys,
    _ENCODER.skipkeys,
    _ENCODER.allow_nan,
)
