"""The canonical audit JSON of a recorded event: its log position, bus name and every field.

The event is rendered from what the log stores (its row and the library's JSON state), not from
the object the current code decodes: an upcaster added later changes what an old event decodes
to, and must not change that event's link. Values the library stored tagged
(`{"_type_": "decimal_str", "_data_": "1.5"}`) are rendered as their text, UUIDs in their
dashed form. Keys sorted, no spaces, UTF-8 as is.

Chain format 3 (issue 17) renders every stored field: the library's `timestamp` (the
aggregate's `created_on`/`modified_on` on load) and a created event's `originator_topic` (the
aggregate class it loads as) decide what loading produces, so they are chained as stored.
Format 2 (issue 8 to 17) left both out, as the replay hash does; rows chained in it keep it.
"""

from __future__ import annotations

import json
from types import MappingProxyType
from typing import Any
from uuid import UUID

import orjson

CHAIN_FORMAT = 3
"""The canonical form new links are made in; each chain row records the form of its links."""
LEFT_OUT_FIELDS_BY_FORMAT: MappingProxyType[int, frozenset[str]] = MappingProxyType(
    {
        2: frozenset({"timestamp", "originator_topic"}),  # links made before issue 17
        3: frozenset(),  # every stored field
    }
)
"""Chain format -> the stored fields its canonical JSON leaves out."""
ROW_FIELDS = ("position", "topic", "originator_id", "originator_version")
_ROW_FIELD_SET = frozenset(ROW_FIELDS)
_HEX_DIGITS = "0123456789abcdef"


def canonical_audit_json(
    position: int,
    topic: str,
    originator_id: UUID | str,
    originator_version: int,
    state: bytes,
    chain_format: int = CHAIN_FORMAT,
) -> str:
    """Return the canonical audit JSON (in `chain_format`) of the event stored at `position`.

    Raises:
        ValueError: the stored state is not a JSON object, or holds a row field's name.
        KeyError: `chain_format` is not a known format.
    """
    text, _ = canonical_audit_json_and_body(
        position, topic, originator_id, originator_version, state, chain_format
    )
    return text


def canonical_audit_json_and_body(
    position: int,
    topic: str,
    originator_id: UUID | str,
    originator_version: int,
    state: bytes,
    chain_format: int = CHAIN_FORMAT,
) -> tuple[str, dict[str, Any]]:
    """Return the canonical audit JSON of the event stored at `position`, and the body it encodes.

    The body is the event's stored fields as `stored_fields` gives them, less the fields
    `chain_format` leaves out, plus the row's fields: a caller that needs a field
    (`occurred_at`) reads it there rather than decoding the state again.

    Raises:
        ValueError: the stored state is not a JSON object, or holds a row field's name.
        KeyError: `chain_format` is not a known format.
    """
    left_out = LEFT_OUT_FIELDS_BY_FORMAT[chain_format]
    fields = _plain_fields(state)
    is_plain = fields is not None
    if fields is None:
        # `stored_fields`' decoding less json.loads' checks around the value (a BOM,
        # whitespace, extra data): a state that fails them, or is no object, goes to
        # `stored_fields`, which decides and raises as it always has. A bad tag raises here
        # what it raises there.
        text = bytes(state).decode("utf-8")
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
    for name in left_out:
        fields.pop(name, None)
    fields["position"] = position
    fields["topic"] = topic
    fields["originator_id"] = str(originator_id)
    fields["originator_version"] = originator_version
    if type(position) is int and type(topic) is str and type(originator_version) is int:
        if is_plain:
            try:
                return orjson.dumps(fields, option=orjson.OPT_SORT_KEYS).decode("utf-8"), fields
            except orjson.JSONEncodeError:
                pass  # a lone surrogate in the topic, an integer past 64 bits: as below
        # Decoded JSON plus these values is a tree of plain JSON types: the encoder
        # json.dumps would build for these options, built once.
        return _ENCODER.encode(fields), fields
    return canonical_dumps(fields), fields


def _plain_fields(state: bytes) -> dict[str, Any] | None:
    r"""Return the stored state decoded and untagged by orjson, or None where it may differ.

    orjson (about 3x faster both ways) gives what `json` gives for a state that is one JSON
    object, braces first and last, without floats: it refuses what `json` refuses there, except
    integers past 64 bits, which it reads as floats. Where a key repeats, both keep the last
    value, but `json` has untagged the values before it, and a bad UUID tag there raises: so
    every `"uuid_hex"` in the bytes must be a tag the walk untagged (no `\u` escape can spell
    one). Anything else (a float, an error, a BOM, whitespace around) is None: the caller then
    takes the `json` path, which is the rule.
    """
    data = bytes(state)
    if data[:1] != b"{" or data[-1:] != b"}" or (b"\\" in data and b"\\u" in data):
        return None
    try:
        tree = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    uuid_tags = [0]
    try:
        fields = _untag_object(tree, uuid_tags) if type(tree) is dict else None
    except _NotPlainError:
        return None
    if type(fields) is not dict or uuid_tags[0] != data.count(b'"uuid_hex"'):
        return None
    return fields


class _NotPlainError(Exception):
    """A decoded value that orjson may not give back as `json` would (a float)."""


def _untag_object(obj: dict[str, Any], uuid_tags: list[int]) -> Any:
    # What `object_hook=_untag` does in `json`, innermost object first; a tag whose data is
    # text (nearly all) is untagged in its parent's loop, without a call of its own.
    for key, item in obj.items():
        kind = type(item)
        if kind is dict:
            if len(item) == 2 and type(item.get("_data_")) is str and "_type_" in item:
                if item["_type_"] == "uuid_hex":
                    uuid_tags[0] += 1
                    obj[key] = _dashed_uuid(item["_data_"])
                else:
                    obj[key] = item["_data_"]
            else:
                obj[key] = _untag_object(item, uuid_tags)
        elif kind is list:
            obj[key] = _untag_list(item, uuid_tags)
        elif kind is float:
            raise _NotPlainError
    if len(obj) == 2 and "_type_" in obj and "_data_" in obj and obj["_type_"] == "uuid_hex":
        uuid_tags[0] += 1
    return _untag(obj)


def _untag_list(items: list[Any], uuid_tags: list[int]) -> list[Any]:
    for index, item in enumerate(items):
        kind = type(item)
        if kind is dict:
            items[index] = _untag_object(item, uuid_tags)
        elif kind is list:
            items[index] = _untag_list(item, uuid_tags)
        elif kind is float:
            raise _NotPlainError
    return items


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
