"""The offline market of `ledger run --exchange sandbox`: the sandbox's clock, one minute a step.

The sandbox runs paced (`ledger sandbox --paced`): its clock holds until released. After the
loop has processed every candle the log holds, the feed releases the clock to the close of the
minute the run waits for, lets it get there (`--speed` times faster than the wall), reads that
minute over REST and records it. A minute the exchange has no candle for, once the clock is
past its close, had no trade: it is recorded as a flat synthetic candle (strategies.md
"Gap-free stream"). So an order the run sends at a candle's close reaches the exchange while
its clock is at that close, and fills from the next candle on, as in a backtest.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta

from adapters.sandbox_exchange.control import SandboxControl
from adapters.upbit.candle_source import UpbitCandleSource
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

    def advance(self, loop: TradingLoop) -> bool:
        """Let the minute the run waits for close and record it; True when the file is used up."""
        wanted = loop.feed.next_open_time
        if wanted > self.last_candle_at:
            return True
        close = wanted + ONE_MINUTE
        self._clock_to(close)
        found = self.source.candles_before(self.market, close, 1)
        if found and found[-1].open_time == wanted:
            candle = found[-1]
        elif loop.progress.last_candle is not None:
            candle = loop.progress.last_candle.flat_successor()
        else:
            raise RuntimeError(f"the sandbox has no {self.market} candle at {wanted.isoformat()}")
        self.trading.ingest_candles(
            candle_hour_commands(self.market, [candle], self.source_name, self.cause())
        )
        if self.on_record is not None:
            self.on_record([candle])
        return False

    def _clock_to(self, at: datetime) -> None:
        status = self.control.status()
        if status.now < at and (status.until is None or status.until < at):
            status = self.control.release(at)
        while status.now < at:
            # The clock covers a minute in 60/speed wall seconds.
            self._sleep(min(0.05, max(0.0005, (at - status.now).total_seconds() / self.speed)))
            status = self.control.status()
