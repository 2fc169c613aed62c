"""The CQRS pipeline's record of outages: each part's state, restarts and the lines it says."""

from __future__ import annotations

from adapters.nats.pipeline import CqrsPipeline
from adapters.nats.relay import LogRelay
from adapters.nats.stream import LogStream


def _pipeline() -> tuple[CqrsPipeline, list[str], list[dict[str, object]]]:
    relay = LogRelay(log=None, stream=LogStream("t"), nats_url="nats://127.0.0.1:1")  # type: ignore[arg-type]
    lines: list[str] = []
    reports: list[dict[str, object]] = []
    pipeline = CqrsPipeline(relay, [], on_report=reports.append, on_notice=lines.append)
    return pipeline, lines, reports


def test_a_part_that_loses_its_connection_and_works_again_is_told_once_each() -> None:
    # Given a relay that worked
    pipeline, lines, reports = _pipeline()
    stats = pipeline.parts()["relay"]
    stats.worked()
    pipeline._tell()

    # When its session fails twice, then works again
    stats.failed(ConnectionRefusedError(111, "Connect call failed\n  ('127.0.0.1', 4222)"))
    pipeline._tell()
    stats.failed(ConnectionRefusedError(111, "Connect call failed"))
    pipeline._tell()
    stats.worked()
    pipeline._tell()
    pipeline._tell()

    # Then one line says it was lost (on one line, with the error), one that it works again,
    # and the report counts both restarts with the newest error
    assert lines == [
        "relay: connection lost: NATS out of reach (ConnectionRefusedError: [Errno 111] Connect "
        "call failed ('127.0.0.1', 4222)); reconnecting, resuming from its checkpoint",
        "relay: working again after 2 session restarts",
    ]
    relay = reports[-1]["parts"]["relay"]  # type: ignore[index]
    assert (relay["state"], relay["restarts"], relay["reconnects"]) == ("up", 2, 2)
    assert relay["last_error"] == "ConnectionRefusedError: [Errno 111] Connect call failed"
    assert reports[-1]["restarts"] == 2


def test_a_failure_and_recovery_between_two_reports_are_both_told() -> None:
    # Given a relay that worked
    pipeline, lines, _ = _pipeline()
    stats = pipeline.parts()["relay"]
    stats.worked()
    pipeline._tell()

    # When a session fails and the next works before the pipeline reports again
    stats.failed(TimeoutError("nats: timeout"))
    stats.worked()
    pipeline._tell()

    # Then both are told, in one line, with the cause: a late reply, not a lost connection
    assert lines == [
        "relay: 1 session restart (newest: NATS did not answer in time, TimeoutError: nats: "
        "timeout); working again"
    ]


def test_a_part_that_has_not_worked_yet_is_neither_up_nor_told_about() -> None:
    pipeline, lines, reports = _pipeline()
    pipeline._tell()
    assert lines == []
    assert reports[-1]["parts"]["relay"]["state"] == "reconnecting"  # type: ignore[index]
