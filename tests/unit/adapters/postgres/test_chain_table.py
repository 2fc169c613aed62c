"""ChainWriter.links: the chain rows and the head after a save, computed without a database."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from adapters.postgres.chain_table import ChainRecord, ChainWriter
from domain.audit.canonical import stored_fields
from domain.audit.checkpoint import ChainHead
from domain.audit.link import GENESIS_LINK, chain_link
from tests.builders import every_event_through_the_application, trading_app
from tests.unit.domain.audit.test_canonical import reference_canonical_audit_json


def stored_records() -> list[ChainRecord]:
    app = trading_app()
    every_event_through_the_application(app)
    return [
        ChainRecord(n.id, n.originator_id, n.originator_version, n.topic, n.state)
        for n in app.recorder.select_notifications(start=1, limit=10_000)
    ]


def test_links_chain_every_record_and_the_head_takes_the_last_records_occurred_at() -> None:
    # Given the stored events of every kind, after a head
    records = stored_records()
    head = ChainHead(0, GENESIS_LINK, 0)

    # When linked
    new_head, links = ChainWriter.links(head, records)

    # Then the links are those of the reference rendering, and the head is the last record's
    link, expected_links = GENESIS_LINK, []
    for r in records:
        canonical = reference_canonical_audit_json(
            r.position, r.topic, r.originator_id, r.originator_version, r.state
        )
        link = chain_link(link, canonical)
        expected_links.append(link)
    occurred_at: Any = stored_fields(records[-1].state)["occurred_at"]  # as links read it before
    assert links == expected_links
    assert new_head == ChainHead(
        records[-1].position, link, len(records), datetime.fromisoformat(occurred_at)
    )


def test_links_of_no_records_keep_the_head() -> None:
    head = ChainHead(7, GENESIS_LINK, 3)

    assert ChainWriter.links(head, []) == (head, [])


def test_a_saves_chain_row_holds_its_last_position_and_count_and_each_events_link() -> None:
    # Given the stored events of every kind, after a head of 3 events
    records = stored_records()
    head = ChainHead(7, GENESIS_LINK, 3)

    # When made into one save's chain row
    new_head, params = ChainWriter.row_params(head, records)

    # Then the row names the save's last event and the chain's count there, and holds each
    # event's link as 32 bytes, in log order
    _, links = ChainWriter.links(head, records)
    assert (params["position"], params["count"]) == (records[-1].position, 3 + len(records))
    assert (new_head.position, new_head.count) == (params["position"], params["count"])
    assert [link.hex() for link in params["links"]] == links
    assert new_head.link == links[-1]
