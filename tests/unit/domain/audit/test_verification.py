"""The chain walk: every kind of change to a log or its chain is named at its first position."""

from __future__ import annotations

from dataclasses import replace

from domain.audit.link import GENESIS_LINK, chain_link
from domain.audit.verification import (
    CHECKPOINT_TOPIC,
    BreakKind,
    ChainRow,
    ChainWalk,
    LoggedEvent,
    Step,
)


def event(position: int, version: int | None = None, text: str = "") -> LoggedEvent:
    v = version if version is not None else position
    canonical = f'{{"originator_version":{v},"position":{position},"text":"{text}"}}'
    return LoggedEvent(position, "order.placed", "o-1", v, canonical)


def chained(events: list[LoggedEvent]) -> list[ChainRow]:
    link, rows = GENESIS_LINK, []
    for n, e in enumerate(events, start=1):
        link = chain_link(link, e.canonical)
        rows.append(ChainRow(e.position, n, e.topic, e.originator_id, e.originator_version, link))
    return rows


def steps(events: list[LoggedEvent], rows: list[ChainRow]) -> list[Step]:
    by_event = {e.position: e for e in events}
    by_row = {r.position: r for r in rows}
    return [Step(p, by_event.get(p), by_row.get(p)) for p in sorted(by_event.keys() | by_row)]


def log(n: int = 5) -> list[LoggedEvent]:
    return [event(p) for p in range(1, n + 1)]


def test_an_untouched_log_walks_to_its_head():
    events = log()
    walk = ChainWalk()

    assert walk.run(steps(events, chained(events))) is None
    assert (walk.position, walk.count, walk.link) == (5, 5, chained(events)[-1].link)


def test_a_changed_event_is_named_as_changed():
    events = log()
    rows = chained(events)
    events[2] = replace(events[2], canonical=events[2].canonical.replace('"text":""', '"text":"x"'))

    found = ChainWalk().run(steps(events, rows))

    assert found is not None
    assert (found.position, found.kind) == (3, BreakKind.CHANGED)
    assert "order.placed o-1 v3" in found.describe()


def test_a_deleted_event_is_named_from_the_chain_row():
    events = log()
    rows = chained(events)

    found = ChainWalk().run(steps(events[:1] + events[2:], rows))

    assert found is not None
    assert (found.position, found.kind) == (2, BreakKind.DELETED)
    assert "o-1 v2" in found.event


def test_an_event_after_the_head_is_named_as_inserted():
    events = log()
    rows = chained(events)

    found = ChainWalk().run(steps([*events, event(9, 9)], rows))

    assert found is not None
    assert (found.position, found.kind) == (9, BreakKind.INSERTED)


def test_an_event_in_a_gap_of_the_chain_is_named_as_inserted():
    events = [event(1), event(3), event(4)]
    rows = chained(events)

    found = ChainWalk().run(steps([*events, event(2, 20)], rows))

    assert found is not None
    assert (found.position, found.kind) == (2, BreakKind.INSERTED)


def test_two_swapped_events_are_named_as_reordered_at_the_first():
    # Given a chained log whose events at positions 2 and 4 then trade places
    events = log()
    rows = chained(events)
    swapped = list(events)
    swapped[1] = replace(events[3], position=2)
    swapped[3] = replace(events[1], position=4)
    walk = ChainWalk(chained_at=lambda _id, version: {4: 4, 2: 2}.get(version))

    # When the chain is walked
    found = walk.run(steps(swapped, rows))

    # Then the first moved event is named, with where the chain recorded it
    assert found is not None
    assert (found.position, found.kind) == (2, BreakKind.REORDERED)
    assert "v4" in found.event
    assert "position 4" in found.detail


def test_a_changed_link_in_the_chain_table_is_named_as_chain_altered():
    events = log()
    rows = chained(events)
    rows[1] = replace(rows[1], link="0" * 64)

    found = ChainWalk().run(steps(events, rows))

    assert found is not None
    assert (found.position, found.kind) == (2, BreakKind.CHAIN_ALTERED)


def test_a_deleted_chain_row_is_named_as_chain_altered():
    events = log()
    rows = chained(events)

    found = ChainWalk().run(steps(events, rows[:2] + rows[3:]))

    assert found is not None
    assert (found.position, found.kind) == (3, BreakKind.CHAIN_ALTERED)


def test_a_save_of_several_events_deleted_from_the_chain_is_named_as_chain_altered_at_its_first():
    # Given a chained log whose chain lost the rows of positions 2 to 4 (one save's row)
    events = log(6)
    rows = chained(events)

    # When the chain is walked
    found = ChainWalk().run(steps(events, rows[:1] + rows[4:]))

    # Then the first event without its row is named, with how many went with it
    assert found is not None
    assert (found.position, found.kind) == (2, BreakKind.CHAIN_ALTERED)
    assert "the 2 after it" in found.detail


def test_events_in_a_gap_that_do_not_lead_to_the_next_link_are_named_as_inserted():
    # Given a chain of positions 1, 4 and 5, and two events written into the gap
    events = [event(1), event(4), event(5)]
    rows = chained(events)

    found = ChainWalk().run(steps([*events, event(2, 20), event(3, 30)], rows))

    assert found is not None
    assert (found.position, found.kind) == (2, BreakKind.INSERTED)


def test_a_checkpoint_naming_another_head_is_a_mismatch():
    # Given a log whose checkpoint at position 4 names position 3 with a wrong link
    events = log(3)
    rows = chained(events)
    checkpoint = LoggedEvent(
        4, CHECKPOINT_TOPIC, "c-1", 1, '{"position":4}', checkpoint=(3, "f" * 64, 3)
    )
    events.append(checkpoint)

    found = ChainWalk().run(steps(events, chained(events)))

    assert found is not None
    assert (found.position, found.kind) == (4, BreakKind.CHECKPOINT_MISMATCH)
    assert rows  # the events before it matched


def test_a_checkpoint_naming_the_true_head_matches():
    events = log(3)
    head = chained(events)[-1]
    events.append(
        LoggedEvent(4, CHECKPOINT_TOPIC, "c-1", 1, '{"position":4}', checkpoint=(3, head.link, 3))
    )
    walk = ChainWalk()

    assert walk.run(steps(events, chained(events))) is None
    assert walk.checkpoints == 1


def test_a_chain_row_of_a_format_no_ledger_wrote_is_named_as_chain_altered():
    events = log()
    rows = chained(events)
    rows[1] = replace(rows[1], chain_format=9)

    found = ChainWalk().run(steps(events, rows))

    assert found is not None
    assert (found.position, found.kind) == (2, BreakKind.CHAIN_ALTERED)
    assert "chain format 9" in found.detail


def test_an_event_matching_its_link_with_an_edit_the_link_left_out_is_named_as_changed():
    events = log()
    rows = chained(events)
    events[3] = replace(events[3], unchained_edit="its library timestamp was edited")

    found = ChainWalk().run(steps(events, rows))

    assert found is not None
    assert (found.position, found.kind) == (4, BreakKind.CHANGED)
    assert "library timestamp" in found.detail
