"""Live ingest with the exchange out of reach: told with since when and the next try, never
recorded as resumed until data flows (the exchange is a closed 127.0.0.1 port, not the net)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from adapters.trading.service import TradingService
from adapters.upbit.candle_source import UpbitCandleSource
from adapters.upbit.live_ingest import LiveCandleIngest, LiveIngestStats
from adapters.upbit.rest import UpbitRestClient
from api.cli.status import service_lines
from api.cli.trading_run import read_status, write_status
from commands.trading import Trading
from domain.events import Cause

STARTED_AT = datetime(2026, 12, 7, 7, 0, 30, tzinfo=UTC)


class ManualClock:
    """A wall clock that moves one second each time it is read."""

    def __init__(self) -> None:
        self.at = STARTED_AT

    def __call__(self) -> datetime:
        self.at += timedelta(seconds=1)
        return self.at


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # nothing listens once the probe is closed


def run_offline(
    trading: Trading,
    since: datetime,
    tries: int,
    on_change: Callable[[LiveIngestStats], None] | None = None,
) -> tuple[LiveCandleIngest, list[str]]:
    port = closed_port()
    clock = ManualClock()
    lines: list[str] = []
    stop = asyncio.Event()

    def changed(feed: LiveIngestStats) -> None:
        if on_change is not None:
            on_change(feed)
        if feed.reconnects >= tries:
            stop.set()  # after exactly `tries` tries

    rest = UpbitRestClient(f"http://127.0.0.1:{port}", sleep=lambda _: None, timeout_s=2)
    ingest = LiveCandleIngest(
        trading,
        UpbitCandleSource(rest),
        f"ws://127.0.0.1:{port}/websocket/v1",
        "KRW-BTC",
        cause=lambda: Cause(clock.at, "ingest", "offline-test", "offline-test"),
        source_name="upbit",
        now=clock,
        backoff_s=(0.0,),
        on_notice=lines.append,
        on_change=changed,
    )
    asyncio.run(asyncio.wait_for(ingest.run(since, stop), 20))
    rest.close()
    return ingest, lines


def feed_topics(trading: Trading) -> list[str]:
    return [
        n.topic
        for n in trading.recorder.select_notifications(start=None, limit=1000)
        if n.topic.startswith("market.feed.")
    ]


def test_an_unreachable_feed_is_never_recorded_as_resumed(bare_trading: Trading) -> None:
    # When the live feed starts at the current minute (nothing to backfill) with the exchange
    # out of reach, and retries five times
    ingest, _ = run_offline(bare_trading, STARTED_AT.replace(second=0), tries=5)

    # Then the log holds one interruption and no resumption
    assert feed_topics(bare_trading) == ["market.feed.opened", "market.feed.interrupted"]
    assert ingest.stats.feed_events == ["interrupted: connection_lost"]


def test_an_unreachable_exchange_is_told_with_since_when_and_the_next_try(
    bare_trading: Trading,
) -> None:
    # When the feed must backfill first, with the exchange's REST API out of reach
    ingest, lines = run_offline(bare_trading, STARTED_AT - timedelta(minutes=10), tries=3)

    # Then the feed's state says since when it is down, why, and when it tries again
    state = ingest.stats
    assert state.down_since is not None and state.next_try_at is not None
    assert state.down_since <= state.next_try_at
    assert "UpbitUnavailableError" in state.last_error
    assert state.down_reason == "the exchange at 127.0.0.1 unreachable"
    # And the terminal was told once that the exchange is out of reach, since when, next try
    since = f"{state.down_since:%H:%M:%S}Z"
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"market feed: the exchange at 127.0.0.1 unreachable since {since}")
    assert "UpbitUnavailableError" in lines[0] and "next try at " in lines[0]
    assert "market.feed.resumed" not in feed_topics(bare_trading)


def test_ledger_status_says_the_exchange_is_unreachable_since_when_and_the_next_try(
    bare_trading: Trading, tmp_path: Path
) -> None:
    # Given a trading service whose live feed cannot reach the exchange, as `ledger run` wires
    # them (the feed's state into the service's status file)
    status_file = tmp_path / "trading-status.dev.json"
    service = TradingService(
        "paper-main",
        make_loop=lambda: None,  # type: ignore[arg-type,return-value]
        wake=asyncio.sleep,  # type: ignore[arg-type]
        is_retryable=lambda _: True,
        report=lambda status: write_status(status_file, status),
    )
    ingest, _ = run_offline(
        bare_trading,
        STARTED_AT - timedelta(minutes=10),
        tries=2,
        on_change=lambda feed: service.note_feed(
            feed.down_since, feed.next_try_at, f"{feed.down_reason} ({feed.last_error})"
        ),
    )

    # When `ledger status` reads the service's status
    lines = service_lines(read_status(status_file))

    # Then it says the exchange is unreachable, why, since when and when it tries next
    feed = ingest.stats
    assert feed.down_since is not None and feed.next_try_at is not None
    assert lines[-1] == (
        "  market feed: the exchange at 127.0.0.1 unreachable ("
        f"{feed.last_error}), since {feed.down_since.isoformat()}; next try at "
        f"{feed.next_try_at.isoformat()}"
    )
