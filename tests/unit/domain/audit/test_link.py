"""The link rule and the canonical audit JSON of a stored event."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from decimal import Decimal
from uuid import UUID

import pytest
from eventsourcing.persistence import DatetimeAsISO, DecimalAsStr, JSONTranscoder, UUIDAsHex

from domain.audit.canonical import canonical_audit_json, stored_fields
from domain.audit.link import GENESIS_LINK, chain_link, event_digest, link_after
from domain.replay_hash import canonical_json

ORDER = UUID("12345678-1234-5678-1234-567812345678")


def transcoder() -> JSONTranscoder:
    found = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
        found.register(transcoding)
    return found


def stored(fields: dict[str, object]) -> bytes:
    return transcoder().encode(fields)


def test_genesis_link_is_the_sha256_of_the_rule_name():
    assert hashlib.sha256(b"upbit-ledger audit chain v2").hexdigest() == GENESIS_LINK


def test_a_link_hashes_the_previous_link_bytes_and_the_digest_of_the_canonical_json_utf8():
    canonical = '{"position":1,"reason":"운영자"}'
    digest = hashlib.sha256(canonical.encode("utf-8")).digest()
    expected = hashlib.sha256(bytes.fromhex(GENESIS_LINK) + digest).hexdigest()

    assert event_digest(canonical) == digest.hex()
    assert link_after(GENESIS_LINK, digest.hex()) == expected
    assert chain_link(GENESIS_LINK, canonical) == expected
    assert chain_link(expected, canonical) != expected


def library_fields() -> dict[str, object]:
    at = datetime(2026, 3, 2, 0, 1, tzinfo=UTC)
    return {
        "timestamp": at,
        "originator_topic": "domain.orders.order:Order",
        "occurred_at": at,
        "price_krw": Decimal("50000000.0"),
        "order_ref": ORDER,
        "reason": "운영자",
    }


ROW_AND_OWN_FIELDS = {
    "position": 7,
    "topic": "order.placed",
    "originator_id": str(ORDER),
    "originator_version": 1,
    "occurred_at": "2026-03-02T00:01:00+00:00",
    "price_krw": "50000000.0",
    "order_ref": str(ORDER),
    "reason": "운영자",
}


def test_canonical_json_has_the_row_fields_and_every_stored_field_as_stored():
    body = json.loads(canonical_audit_json(7, "order.placed", ORDER, 1, stored(library_fields())))

    # The library's timestamp and class location decide what loading produces: chained too
    assert body == {
        **ROW_AND_OWN_FIELDS,
        "timestamp": "2026-03-02T00:01:00+00:00",
        "originator_topic": "domain.orders.order:Order",
    }


def test_canonical_json_of_chain_format_2_drops_the_library_copies():
    state = stored(library_fields())

    body = json.loads(canonical_audit_json(7, "order.placed", ORDER, 1, state, 2))

    assert body == ROW_AND_OWN_FIELDS


def test_an_unknown_chain_format_is_refused():
    with pytest.raises(KeyError):
        canonical_audit_json(7, "order.placed", ORDER, 1, stored(library_fields()), 9)


def test_a_created_event_of_a_class_moved_away_still_renders_from_what_was_stored():
    # Given a stored created event naming a module the code no longer has (the class moved,
    # its old topic registered as an alias for loading)
    fields = {**library_fields(), "originator_topic": "domain.old_place.order:Order"}

    # When rendered
    body = json.loads(canonical_audit_json(7, "order.placed", ORDER, 1, stored(fields)))

    # Then it renders as stored, nothing resolved: the link made before the move still matches
    assert body["originator_topic"] == "domain.old_place.order:Order"


def test_canonical_json_is_sorted_compact_and_keeps_non_ascii():
    text = canonical_audit_json(3, "risk.trading.halted", ORDER, 2, stored({"reason": "점검"}))

    assert text == (
        '{"originator_id":"12345678-1234-5678-1234-567812345678","originator_version":2,'
        '"position":3,"reason":"점검","topic":"risk.trading.halted"}'
    )


def test_canonical_json_renders_fields_as_the_replay_hash_does():
    # Given an event's fields as the domain holds them
    at = datetime(2026, 3, 2, 0, 1, tzinfo=UTC)
    fields = {"occurred_at": at, "qty_btc": Decimal("0.00100000"), "ids": [ORDER], "n": 3}

    # When rendered from the stored state and by the replay hash's rendering
    audit = json.loads(canonical_audit_json(1, "x.y.z", ORDER, 1, stored(fields)))
    replay = json.loads(canonical_json("x.y.z", fields))

    # Then the fields agree
    assert {k: audit[k] for k in fields} == {k: replay[k] for k in fields}


def test_a_stored_state_with_a_row_field_name_is_refused():
    with pytest.raises(ValueError, match="reserved"):
        canonical_audit_json(1, "x.y.z", ORDER, 1, stored({"position": 3}))


def test_stored_fields_untags_the_library_values():
    assert stored_fields(stored({"a": Decimal("1.5"), "b": ORDER})) == {"a": "1.5", "b": str(ORDER)}
