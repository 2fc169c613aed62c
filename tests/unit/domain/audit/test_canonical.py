"""The canonical audit JSON is, byte for byte and error for error, what the rule's first
implementation (kept below as the reference) renders from any stored state."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import DatetimeAsISO, DecimalAsStr, JSONTranscoder, UUIDAsHex
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.audit.canonical import (
    canonical_audit_json,
    canonical_audit_json_and_body,
    stored_fields,
)
from tests.builders import every_event_through_the_application, trading_app


# The reference: domain/audit/canonical.py as of d2135f8, before it was made fast.
# Chain format 3 (issue 17) leaves out nothing; format 2 left out the two fields below.
def reference_canonical_audit_json(
    position: int,
    topic: str,
    originator_id: UUID | str,
    originator_version: int,
    state: bytes,
    chain_format: int = 3,
) -> str:
    fields = _reference_stored_fields(state)
    clash = fields.keys() & set(_REFERENCE_ROW_FIELDS)
    if clash:
        raise ValueError(f"the event at position {position} stores reserved fields {clash}")
    left_out = _REFERENCE_LEFT_OUT_FIELDS if chain_format == 2 else frozenset()
    body = {k: v for k, v in fields.items() if k not in left_out}
    body["position"] = position
    body["topic"] = topic
    body["originator_id"] = str(originator_id)
    body["originator_version"] = originator_version
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


_REFERENCE_LEFT_OUT_FIELDS = frozenset({"timestamp", "originator_topic"})
_REFERENCE_ROW_FIELDS = ("position", "topic", "originator_id", "originator_version")


def _reference_stored_fields(state: bytes) -> dict[str, Any]:
    fields = json.loads(bytes(state).decode("utf-8"), object_hook=_reference_untag)
    if not isinstance(fields, dict):
        raise ValueError("an event's stored state must be a JSON object")
    return fields


def _reference_untag(obj: dict[str, Any]) -> Any:
    if len(obj) == 2 and "_type_" in obj and "_data_" in obj:
        data = obj["_data_"]
        if obj["_type_"] == "uuid_hex":
            return str(UUID(data))
        return data
    return obj


# How the library stores an event's state (as in test_link.py).
def transcoder() -> JSONTranscoder:
    found = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
        found.register(transcoding)
    return found


TRANSCODER = transcoder()
ORDER = UUID("12345678-1234-5678-1234-567812345678")
PROPERTY_SETTINGS = settings(max_examples=400, deadline=None, derandomize=True, database=None)


def outcome(render: Any, *args: Any) -> Any:
    """Return what `render` returns, or the type and arguments of what it raises."""
    try:
        return render(*args)
    except Exception as error:
        return type(error), error.args


def assert_same(position: int, topic: Any, originator_id: Any, version: int, state: bytes) -> None:
    for chain_format in (3, 2):
        args = (position, topic, originator_id, version, state, chain_format)
        expected = outcome(reference_canonical_audit_json, *args)
        assert outcome(canonical_audit_json, *args) == expected
        if isinstance(expected, str):
            text, body = canonical_audit_json_and_body(*args)
            assert text == expected
            occurred_at = _reference_stored_fields(state).get("occurred_at")
            assert json.dumps(body.get("occurred_at")) == json.dumps(occurred_at)  # NaN != NaN


# Stored states: the library's tagged values (also as a real UUID, Decimal or datetime, which
# the transcoder tags itself), nested tags, near-tags, tags of unknown types, odd UUID data.
UUID_DATA = st.one_of(
    st.uuids().map(lambda u: u.hex),
    st.uuids().map(lambda u: u.hex.upper()),
    st.uuids().map(str),
    st.uuids().map(lambda u: "{" + str(u) + "}"),
    st.uuids().map(lambda u: u.urn),
    st.text(alphabet="0123456789abcdefABCDEFg-_{} +", max_size=40),
    st.text(max_size=6),
    st.integers(),
    st.none(),
    st.lists(st.integers(), max_size=2),
)
TAG_TYPES = st.sampled_from(["uuid_hex", "decimal_str", "datetime_iso", "enum_OrderSide", "x"])
KEYS = st.one_of(
    st.text(max_size=8),
    st.sampled_from(["_type_", "_data_", "occurred_at", "timestamp", "originator_topic"]),
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(),
    st.text(alphabet='\x00\x01\x1f"\\/\n\t\u2028\ufeff한é', max_size=8),
    st.decimals(),
    st.uuids(),
    st.datetimes(timezones=st.sampled_from([UTC, None])),
    st.builds(lambda data: {"_type_": "uuid_hex", "_data_": data}, UUID_DATA),
)


def tagged(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.builds(lambda kind, data: {"_type_": kind, "_data_": data}, TAG_TYPES, children),
        st.builds(lambda kind, data: {"_data_": data, "_type_": kind}, TAG_TYPES, children),
        st.builds(
            lambda kind, data, extra: {"_type_": kind, "_data_": data, "x": extra},
            TAG_TYPES,
            children,
            children,
        ),
    )


VALUES = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(KEYS, children, max_size=4),
        tagged(children),
    ),
    max_leaves=12,
)
FIELD_NAMES = st.one_of(
    KEYS,
    st.sampled_from(["position", "topic", "originator_id", "originator_version"]),
)
STATES = st.one_of(
    st.dictionaries(KEYS, VALUES, max_size=8),
    st.dictionaries(FIELD_NAMES, VALUES, max_size=4),
    tagged(VALUES),
    VALUES,
).map(TRANSCODER.encode)
ROWS = st.tuples(
    st.integers(min_value=1, max_value=2**63 - 1),
    st.text(max_size=30),
    st.one_of(st.uuids(), st.uuids().map(str)),
    st.integers(min_value=1, max_value=2**31),
)


@PROPERTY_SETTINGS
@given(row=ROWS, state=STATES)
def test_canonical_json_of_any_stored_state_is_the_reference_s(
    row: tuple[int, str, Any, int], state: bytes
) -> None:
    assert_same(*row, state)


def mangle(state: bytes, how: str, cut: int) -> bytes:
    return {
        "as stored": state,
        "whitespace around": b" \n" + state + b"\t ",
        "whitespace after": state + b" ",
        "truncated": state[: cut % (len(state) + 1)],
        "extra data": state + b"{}",
        "byte order mark": "\ufeff".encode() + state,
        "not utf-8": state + b"\xff",
    }[how]


HOW = st.sampled_from(
    [
        "as stored",
        "whitespace around",
        "whitespace after",
        "truncated",
        "extra data",
        "byte order mark",
        "not utf-8",
    ]
)


@PROPERTY_SETTINGS
@given(row=ROWS, state=STATES, how=HOW, cut=st.integers(min_value=0))
def test_canonical_json_of_a_damaged_state_is_the_reference_s(
    row: tuple[int, str, Any, int], state: bytes, how: str, cut: int
) -> None:
    assert_same(*row, mangle(state, how, cut))


@pytest.mark.parametrize(
    "state",
    [
        b'{"a":{"_type_":"uuid_hex","_data_":"bad"},"a":1}',  # the bad tag is overwritten
        b'{"a":{"_type_":"uuid_hex","_data_":"bad"},"b":{"_type_":"uuid_hex","_data_":7}}',
        b'{"a":{"_type_":"uuid_hex","_data_":"bad"},',  # the tag fails before the syntax
        b'{"_type_":"decimal_str","_data_":{"a":1}}',  # a tag whose text is an object
        b'{"_type_":"decimal_str","_data_":"1.5"}',
        b'{"_type_":"uuid_hex","_data_":"12345678123456781234567812345678"}',
        b'{"a":{"_type_":"uuid_\\u0068ex","_data_":"12345678123456781234567812345678"}}',
        b'{"a":{"_type_":"uuid_hex","_data_":"1234567812345678123456781234567G"}}',
        b'{"a":{"_type_":"uuid_hex","_data_":"12345678-1234-5678-1234-567812345678"}}',
        b'{"a":NaN,"b":-Infinity,"c":1e400,"d":-0.0,"e":1E+2}',
        b'{"a":"\\u00e9\\ud55c\\u0000\\/","b":"\xed\x95\x9c"}',
        b'{"a":"\x01"}',  # a raw control character: refused
        b'{"timestamp":1,"originator_topic":2,"c":3}',
        b'{"topic":1,"position":2}',
        b'{"originator_id":{"_type_":"uuid_hex","_data_":"12345678123456781234567812345678"}}',
        b"[1]",
        b'"text"',
        b"",
        b"{}",
        b"{} ",
        b'{"a":1}\n',
        b'{"a":' + b"[" * 5000 + b"]" * 5000 + b"}",  # too deep for the decoder, either way
    ],
)
def test_canonical_json_of_an_unusual_state_is_the_reference_s(state: bytes) -> None:
    assert_same(3, "x.y.z", ORDER, 1, state)


@pytest.mark.parametrize(
    ("position", "topic", "originator_version"),
    [(True, "x.y.z", 1), (1, None, 1), (1, "x.y.z", 1.5), (1, ["x"], 2), (Decimal(1), "x", 1)],
)
def test_canonical_json_with_unusual_row_values_is_the_reference_s(
    position: Any, topic: Any, originator_version: Any
) -> None:
    assert_same(position, topic, ORDER, originator_version, TRANSCODER.encode({"a": 1}))


def test_a_cyclic_row_value_fails_as_the_reference_does() -> None:
    topic: list[Any] = []
    topic.append(topic)

    assert_same(1, topic, ORDER, 1, TRANSCODER.encode({"a": 1}))


@pytest.fixture(scope="module")
def stored_events() -> list[Any]:
    app = trading_app()
    every_event_through_the_application(app)
    return list(app.recorder.select_notifications(start=1, limit=10_000))


def test_canonical_json_of_every_event_the_application_stores_is_the_reference_s(
    stored_events: list[Any],
) -> None:
    topics = {n.topic for n in stored_events}
    assert {"order.placed", "market.candle.ingested", "strategy.run.started"} <= topics

    for n in stored_events:
        assert_same(n.id, n.topic, n.originator_id, n.originator_version, n.state)


def test_the_body_holds_the_stored_occurred_at_and_the_row_fields(
    stored_events: list[Any],
) -> None:
    # Given a stored strategy.run.started (nested dicts, decimals, times)
    n = next(e for e in stored_events if e.topic == "strategy.run.started")

    # When rendered
    text, body = canonical_audit_json_and_body(
        n.id, n.topic, n.originator_id, n.originator_version, n.state
    )

    # Then the body is what the JSON encodes, with the stored fields as plain text
    assert json.loads(text) == body
    fields = stored_fields(n.state)
    assert body["occurred_at"] == fields["occurred_at"] == "2025-01-06T01:15:00+00:00"
    assert body["strategies"] == {"grid": {"levels": "10"}}
    assert body["originator_id"] == str(n.originator_id)
    assert body["timestamp"] == fields["timestamp"] == body["occurred_at"]
    assert body["originator_topic"] == fields["originator_topic"]
    _, format_2 = canonical_audit_json_and_body(
        n.id, n.topic, n.originator_id, n.originator_version, n.state, 2
    )
    assert "timestamp" not in format_2 and "originator_topic" not in format_2


def test_a_library_uuid_is_rendered_dashed_at_any_depth() -> None:
    state = TRANSCODER.encode(
        {"a": ORDER, "b": [{"c": ORDER}], "d": datetime(2026, 1, 1, tzinfo=UTC)}
    )

    body = json.loads(canonical_audit_json(1, "x.y.z", ORDER, 1, state))

    assert body["a"] == body["b"][0]["c"] == str(ORDER)
