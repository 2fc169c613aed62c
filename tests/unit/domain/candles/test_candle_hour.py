"""Candle hours: candles recorded once, identical re-imports ignored, differences refused or
recorded as explicit corrections."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from commands.handlers.candles import get_candle_hour
from commands.messages import IngestCandles
from commands.trading import Trading
from domain.candles.candle_hour import CandleHour, CandleRow, content_hash
from domain.errors import CandleConflictError, InvalidCandleError
from domain.events import Cause

HOUR = datetime(2023, 1, 1, 5, tzinfo=UTC)
CAUSE = Cause(HOUR + timedelta(hours=1), "importer", "file:x", "import-1")


def row(minute: int, close: str = "21080000.0") -> CandleRow:
    return CandleRow.of(
        minute, ("21079000.0", "21082000.0", "21061000.0", close, "4.85201383", "102241235.21498")
    )


def opened() -> CandleHour:
    hour = CandleHour.open(market="KRW-BTC", hour_start=HOUR, cause=CAUSE)
    hour.collect_events()
    return hour


def test_an_opened_hour_names_its_start_on_both_clocks_as_one_instant() -> None:
    hour = CandleHour.open(market="KRW-BTC", hour_start=HOUR, cause=CAUSE)

    (event,) = hour.collect_events()

    assert isinstance(event, CandleHour.Opened)
    assert event.hour_start_kst == event.hour_start == HOUR
    assert event.hour_start_kst.isoformat() == "2023-01-01T14:00:00+09:00"


def test_new_candles_are_recorded_as_written_with_their_content_hash() -> None:
    hour = opened()
    assert hour.ingest([row(1), row(0)], source="csv:x", correct=False, cause=CAUSE) == (2, 0)
    (event,) = hour.collect_events()
    assert isinstance(event, CandleHour.Ingested)
    assert event.rows == [row(0).text, row(1).text] and event.count == 2
    assert event.content_sha256 == content_hash(event.rows)
    (first, _) = hour.candles()
    assert (first.open_time, first.close, first.volume) == (HOUR, D("21080000.0"), D("4.85201383"))


def test_the_same_candles_again_record_nothing() -> None:
    hour = opened()
    hour.ingest([row(0)], source="csv:x", correct=False, cause=CAUSE)
    hour.collect_events()
    assert hour.ingest([row(0)], source="csv:y", correct=False, cause=CAUSE) == (0, 0)
    assert hour.collect_events() == []


def test_a_different_candle_for_a_recorded_minute_is_refused_naming_both() -> None:
    hour = opened()
    hour.ingest([row(7)], source="csv:x", correct=False, cause=CAUSE)
    hour.collect_events()
    with pytest.raises(CandleConflictError) as refused:
        hour.ingest(
            [row(8), row(7, close="21090000.0")], source="csv:y", correct=False, cause=CAUSE
        )
    assert "2023-01-01T05:07:00+00:00" in str(refused.value)
    assert "21080000.0" in str(refused.value) and "21090000.0" in str(refused.value)
    assert hour.collect_events() == []


def test_a_different_candle_is_recorded_as_a_correction_when_allowed() -> None:
    hour = opened()
    hour.ingest([row(7)], source="csv:x", correct=False, cause=CAUSE)
    hour.collect_events()
    assert hour.ingest([row(7, close="21090000.0")], source="rest", correct=True, cause=CAUSE) == (
        0,
        1,
    )
    (event,) = hour.collect_events()
    assert isinstance(event, CandleHour.Corrected)
    assert (event.previous, event.corrected) == (row(7).text, row(7, close="21090000.0").text)
    assert hour.candles()[0].close == D("21090000.0")


def test_a_minute_outside_the_hour_or_a_ragged_hour_start_is_refused() -> None:
    with pytest.raises(InvalidCandleError, match="minute 60"):
        opened().ingest([row(60)], source="x", correct=False, cause=CAUSE)
    with pytest.raises(InvalidCandleError, match="not a whole hour"):
        CandleHour.open(market="KRW-BTC", hour_start=HOUR + timedelta(minutes=5), cause=CAUSE)


def test_bulk_ingest_takes_the_fast_path_and_falls_back_when_an_hour_exists() -> None:
    app = Trading({"PERSISTENCE_MODULE": "eventsourcing.popo"})
    first = [
        IngestCandles("KRW-BTC", HOUR + timedelta(hours=h), (row(0), row(1)), "csv", CAUSE)
        for h in range(3)
    ]
    report = app.ingest_candles(first, assume_new=True)
    assert (report.recorded, report.hours_opened) == (6, 3)
    # Re-importing overlapping hours with one new minute records just that minute
    again = [*first, IngestCandles("KRW-BTC", HOUR, (row(2),), "csv", CAUSE)]
    before = app.recorder.max_notification_id()
    report = app.ingest_candles(again, assume_new=True)
    assert (report.recorded, report.hours_opened) == (1, 0)
    assert app.recorder.max_notification_id() == (before or 0) + 1
    hour = get_candle_hour(app, "KRW-BTC", HOUR)
    assert hour is not None and len(hour.candles()) == 3


def test_a_value_added_to_a_candle_recorded_without_one_is_refused_saying_only_value_differs() -> (
    None
):
    # Given a candle recorded from a source without a value column (value 0)
    hour = opened()
    without_value = CandleRow.of(
        7, ("21079000.0", "21082000.0", "21061000.0", "21080000.0", "4.85201383")
    )
    hour.ingest([without_value], source="csv:fixture", correct=False, cause=CAUSE)
    hour.collect_events()
    # When the same candle arrives with its value
    with pytest.raises(CandleConflictError) as refused:
        hour.ingest([row(7)], source="csv:8-months", correct=False, cause=CAUSE)
    # Then the refusal says that only the value differs, and why, and nothing is recorded
    assert "only its value differs" in str(refused.value)
    assert "as a source without a value column records it" in str(refused.value)
    assert hour.collect_events() == []
    # And allowed, the correction says so
    assert hour.ingest([row(7)], source="csv:8-months", correct=True, cause=CAUSE) == (0, 1)
    (corrected,) = hour.collect_events()
    assert isinstance(corrected, CandleHour.Corrected)
    assert corrected.reason == "the recorded candle had no value (0); the source gives one"
