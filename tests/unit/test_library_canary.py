"""The eventsourcing library's parts we rely on beyond its public surface, pinned (issue 18).

Two places use the library's private names (`tests/unit/test_structure.py` allows no other):
the log's recorder (`adapters/postgres/recorder.py`: `_insert_events`, which writes a save's
tracking row on the save's cursor) and `domain.events.create_aggregate` (`Aggregate._create`,
which creates an aggregate by its own created-event class). The library is pinned to one
version in pyproject.toml; these tests fail first, by name, when an upgrade moves either part,
and check that the public `save(**kwargs)` still hands its keywords to the recorder.
"""

from __future__ import annotations

import inspect
import tomllib
from importlib.metadata import version
from pathlib import Path

from eventsourcing.domain import Aggregate
from eventsourcing.postgres import PostgresProcessRecorder

from commands.run_progress import RUN_PROGRESS_KWARG, RunProgress
from commands.trading import Trading
from domain.portfolio.ledger import Portfolio
from tests.builders import POPO_ENV, cause

ROOT = Path(__file__).resolve().parents[2]
PINNED = "9.5.6"


def test_the_library_is_pinned_to_the_version_these_parts_were_checked_on() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    wanted = [d for d in project["project"]["dependencies"] if d.startswith("eventsourcing")]
    assert wanted == [f"eventsourcing[postgres]=={PINNED}"]
    assert version("eventsourcing") == PINNED


def test_the_recorder_s_tracking_insert_takes_the_cursor_the_events_and_keywords() -> None:
    parameters = list(inspect.signature(PostgresProcessRecorder._insert_events).parameters)
    assert parameters == ["self", "curs", "stored_events", "kwargs"]
    source = inspect.getsource(PostgresProcessRecorder._insert_events)
    assert 'kwargs.get("tracking")' in source  # it writes the tracking row, nothing else


def test_an_aggregate_is_created_by_its_created_event_class_with_fields() -> None:
    parameters = inspect.signature(Aggregate._create).parameters
    assert list(parameters) == ["event_class", "id", "kwargs"]
    portfolio = Portfolio.open(account="canary", cause=cause(0))
    [opened] = portfolio.collect_events()
    assert isinstance(opened, Portfolio.Opened) and opened.account == "canary"


def test_the_public_save_hands_its_keywords_to_the_recorder() -> None:
    log = Trading(POPO_ENV)
    try:
        progress = RunProgress("canary-run", 7, 3, b"state")
        log.save(**{RUN_PROGRESS_KWARG: progress})
        assert log.read_run_progress("canary-run") == progress
    finally:
        log.close()
