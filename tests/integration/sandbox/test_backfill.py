"""Backfill from the sandbox into the PostgreSQL log: every minute once, gaps synthetic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from adapters.upbit.candle_source import UpbitCandleSource
from adapters.upbit.rest import UpbitRestClient
from commands.candle_history import candle_tape_from_log
from commands.ingest import backfill
from commands.trading import Trading
from domain.events import Cause
from tests.integration.sandbox.conftest import NOW, Sandbox, file_rows

SINCE = datetime(2023, 3, 11, tzinfo=UTC)


def cause() -> Cause:
    return Cause(NOW, "ingest", "backfill-test", "backfill-test")


def test_backfill_records_every_minute_once_with_the_empty_one_synthetic(
    sandbox: Sandbox, trading: Trading
) -> None:
    # Given the sandbox at 2023-03-12 06:30:20 with a minute without trades at 03-11 19:38
    with UpbitRestClient(sandbox.url) as client:
        report = backfill(
            trading,
            UpbitCandleSource(client),
            "KRW-BTC",
            since=SINCE,
            until=NOW,
            cause=cause,
            source_name="upbit-rest:sandbox",
        )
    # Then every minute from the start to the last closed one is in the log exactly once
    minutes = int((NOW - SINCE) / timedelta(minutes=1))  # 00:00 .. 06:29 of the next day
    assert report.synthetic == 1 and report.recorded == minutes
    tape = candle_tape_from_log(trading, "KRW-BTC")
    assert tape is not None and len(tape) == minutes
    rows = file_rows()
    for i in range(len(tape)):
        candle = tape.candle(i)
        expected = rows.get(candle.open_time)
        if expected is None:  # the empty minute: flat at the previous close, no volume
            assert candle.open_time == datetime(2023, 3, 11, 19, 38, tzinfo=UTC)
            previous = rows[candle.open_time - timedelta(minutes=1)]
            assert (candle.open, candle.close, candle.volume) == (
                Decimal(previous[3]),
                Decimal(previous[3]),
                Decimal(0),
            )
        else:
            assert (candle.open, candle.high, candle.low, candle.close, candle.volume) == tuple(
                Decimal(x) for x in expected[:5]
            )


def test_a_second_backfill_over_the_same_span_records_nothing(
    sandbox: Sandbox, trading: Trading
) -> None:
    with UpbitRestClient(sandbox.url) as client:
        source = UpbitCandleSource(client)
        backfill(
            trading,
            source,
            "KRW-BTC",
            since=SINCE,
            until=NOW,
            cause=cause,
            source_name="upbit-rest:sandbox",
        )
        before = trading.recorder.max_notification_id()
        again = backfill(
            trading,
            source,
            "KRW-BTC",
            since=SINCE,
            until=NOW,
            cause=cause,
            source_name="upbit-rest:sandbox",
        )
    assert (again.recorded, again.corrected) == (0, 0)
    assert trading.recorder.max_notification_id() == before
