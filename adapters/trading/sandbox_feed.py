"""The offline market of `ledger run --exchange sandbox`: the sandbox's clock, one minute a step.

The sandbox runs paced (`ledger sandbox --paced`): its clock holds until released. After the
loop has processed every candle the log holds, the feed releases the clock to the close of the
minute the run waits for and takes that minute's final candle from the `candle.1m` WebSocket
(Upbit's feed, without the REST rate limit); when none comes, it asks REST once the clock is
past the close. A minute the exchange has no candle for, then, had no trade: it is recorded as
a flat synthetic candle (strategies.md "Gap-free stream"). So an order the run sends at a
candle's close reaches the exchange while its clock is at that close, and fills from the next
candle on, as in a backtest.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from websockets.exceptions import WebSocketException
from websockets.sync.client import ClientConnection, connect

from adapters.sandbox_exchange.control import SandboxControl, SandboxControlRefusedError
from adapters.upbit.candle_source import UpbitCandleSource
from adapters.upbit.parsing import UpbitCandle, loads, parse_candle
from commands.ingest import candle_hour_commands
from commands.processes.trading_loop import TradingLoop
from commands.trading import Trading
from domain.candles.candle import Candle
from domain.events import Cause

ONE_MINUTE = timedelta(minutes=1)


class SteppedSandboxFeed:
    """Moves a paced sandbox one minute per processed candle and records each minute."""

    def __init__(
        self,
        trading: Trading,
        control: SandboxControl,
        source: UpbitCandleSource,
        market: str,
        *,
        cause: Callable[[], Cause],
        source_name: str,
        on_record: Callable[[list[Candle]], None] | None = None,
        websocket_url: str | None = None,
        feed_wait_s: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.trading, self.control, self.source, self.market = trading, control, source, market
        self.cause, self.source_name, self.on_record, self._sleep = (
            cause,
            source_name,
            on_record,
            sleep,
        )
        status = control.status()
        self.first_candle_at, self.last_candle_at = status.first_candle_at, status.last_candle_at
        self.speed = status.speed
        self.feed_wait_s = feed_wait_s
        self.websocket_url = websocket_url
        self._socket: ClientConnection | None = None
        self._released_until = status.until if status.until is not None else status.now
        """How far this feed has let the clock run: the clock holds there until released."""

    def close(self) -> None:
        """Close the WebSocket."""
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def _subscribed(self) -> ClientConnection:
        if self._socket is None:
            assert self.websocket_url is not None
            self._socket = connect(self.websocket_url, open_timeout=10, max_size=2**20)
            ticket = {"ticket": "stepped-sandbox-feed"}
            self._socket.send(json.dumps([ticket, {"type": "candle.1m", "codes": [self.market]}]))
        return self._socket

    def advance(self, loop: TradingLoop) -> bool:
        """Let the minute the run waits for close and record it; True when the file is used up."""
        wanted = loop.feed.next_open_time
        if wanted > self.last_candle_at:
            return True
        close = wanted + ONE_MINUTE
        self._release(close)
        candle = self._from_feed(wanted)
        if candle is None:
            self._clock_to(close)
            found = self.source.candles_before(self.market, close, 1)
            candle = found[-1] if found and found[-1].open_time == wanted else None
        if candle is None:
            last = loop.progress.last_candle
            if last is None:
                raise RuntimeError(f"the sandbox has no {self.market} candle at {wanted}")
            candle = last.flat_successor()  # the clock is past its close: it had no trade
        self.trading.ingest_candles(
            candle_hour_commands(self.market, [candle], self.source_name, self.cause())
        )
        if self.on_record is not None:
            self.on_record([candle])
        return False

    def _release(self, at: datetime) -> None:
        # One request a minute: the clock holds where this feed let it run, so it need not be
        # asked first. A clock already past `at` (moved by a restore) needs no release.
        if at <= self._released_until:
            return
        with contextlib.suppress(SandboxControlRefusedError):
            self.control.release(at)
        self._released_until = at

    def _from_feed(self, wanted: datetime) -> Candle | None:
        # At the boundary the feed sends the closed minute, then the next minute's opening.
        if self.websocket_url is None:
            return None
        final: UpbitCandle | None = None
        deadline = time.monotonic() + self.feed_wait_s
        while (left := deadline - time.monotonic()) > 0:
            try:
                frame = self._subscribed().recv(timeout=left)
            except TimeoutError:
                break
            except (WebSocketException, OSError):
                self.close()  # reconnected at the next minute; REST answers for this one
                return None
            update = parse_candle(loads(frame if isinstance(frame, str) else bytes(frame)))
            if update.open_time == wanted:
                final = update
            elif update.open_time > wanted:
                break
        if final is None or final.volume == 0:
            return None  # the opening update alone is not the closed minute: ask REST
        return Candle.checked(
            final.open_time,
            final.open,
            final.high,
            final.low,
            final.close,
            final.volume,
            final.value,
        )

    def _clock_to(self, at: datetime) -> None:
        status = self.control.status()
        while status.now < at:
            # The clock covers a minute in 60/speed wall seconds.
            self._sleep(min(0.05, max(0.0005, (at - status.now).total_seconds() / self.speed)))
            status = self.control.status()
