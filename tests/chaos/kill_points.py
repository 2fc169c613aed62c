"""A trading run killed at a chosen point, restarted, and compared with an uninterrupted one.

The run trades real candles on the in-memory exchange (`tests/fakes/exchange.py`, which passes
the same `ExchangeGatewayContract` as the sandbox) over an in-memory log, through the same
`TradingLoop` that `ledger run` drives. Every place where a process can die and leave the world
changed is a kill point, counted in the order the run reaches them:

- just before and just after each save of the log (a candle's events, its answers),
- just before and just after each request to the exchange (send, look-up, cancel): after it,
  the exchange has acted and the process dies before the log knows.

A scenario kills the run at its k-th kill point (the process's memory is lost: a new
`TradingLoop` resumes from what the log holds, on the same log and the same exchange), then
trades on to the end. Its outcome counts what must never happen:

- duplicates: orders sent to the exchange more than once (a second `submit` of one identifier),
- orphans: orders the exchange holds that the log does not show as acknowledged, and orders the
  log placed that never reached the exchange,
- a differing run: its decision events differ from the uninterrupted run's (replay hash).
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from uuid import UUID

from commands.ports import ExchangeOrder, OrderTicket
from commands.trading import Trading
from domain.candles.candle import Candle
from domain.orders.order import Order
from domain.orders.status import OrderStatus
from tests.fakes.exchange import FakeExchange
from tests.unit.commands.processes.runs import (
    MODEL,
    PARAMS,
    decisions,
    loop,
    new_log,
    on_exchange,
    open_run,
    real_candles,
    record_candles,
)

WINDOW = (1440 + 9 * 60, 1440 + 11 * 60)
"""Two hours of the fixture's second day (minutes from its first): trading and fills."""


class Killed(BaseException):
    """The process died here (not an error the run could catch)."""


@dataclass
class KillSwitch:
    """Counts the kill points the run passes; kills it at the chosen one."""

    at: int | None
    passed: int = 0
    armed: bool = False

    def point(self) -> None:
        """Pass one kill point (only while the run steps: the ingest is another process)."""
        if not self.armed:
            return
        self.passed += 1
        if self.passed == self.at:
            raise Killed(f"killed at kill point {self.at}")


class KillingGateway:
    """The exchange, with a kill point before and after each request."""

    def __init__(self, exchange: FakeExchange, switch: KillSwitch) -> None:
        self.exchange, self.switch = exchange, switch
        self.name = exchange.name
        self.submits: Counter[UUID] = Counter()

    def submit(self, ticket: OrderTicket) -> ExchangeOrder:
        self.switch.point()
        self.submits[ticket.order_id] += 1
        placed = self.exchange.submit(ticket)
        self.switch.point()
        return placed

    def find(self, order_id: UUID) -> ExchangeOrder | None:
        self.switch.point()
        found = self.exchange.find(order_id)
        self.switch.point()
        return found

    def cancel(self, order_id: UUID) -> ExchangeOrder:
        self.switch.point()
        cancelled = self.exchange.cancel(order_id)
        self.switch.point()
        return cancelled

    def __getattr__(self, name: str) -> Any:
        return getattr(self.exchange, name)


@dataclass
class Outcome:
    """What a run did, as checked against the rules."""

    kill_at: int | None
    kill_points: int
    """How many kill points the run passed in all."""
    restarts: int
    decisions_hash: str
    decisions: int
    duplicates: list[UUID] = field(default_factory=list)
    orphans: list[UUID] = field(default_factory=list)


def run_scenario(candles: list[Candle], kill_at: int | None) -> Outcome:
    """Trade `candles`, killed at kill point `kill_at` (None: never); check the outcome."""
    trading = new_log()
    try:
        exchange = FakeExchange(MODEL, candles[0].open_time)
        open_run(
            trading, candles[0].open_time, exchange="sandbox", params=DENSE, actor="operator:chaos"
        )
        switch = KillSwitch(kill_at)
        gateway = KillingGateway(exchange, switch)
        _kill_points_around_saves(trading, switch)
        make_loop = partial(loop, trading, on_exchange(gateway, trading))
        run, restarts = make_loop(), 0
        for candle in candles:
            exchange.close(candle)
            record_candles(trading, [candle])
            while True:
                switch.armed = True
                try:
                    run.step()
                    break
                except Killed:
                    restarts += 1
                    run = make_loop()  # a new process, on what the log and exchange hold
                finally:
                    switch.armed = False
        lines = decisions(trading)
        digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()
        return Outcome(
            kill_at,
            switch.passed,
            restarts,
            digest,
            len(lines),
            duplicates=sorted(o for o, n in gateway.submits.items() if n > 1),
            orphans=_orphans(trading, exchange),
        )
    finally:
        trading.close()


DENSE = {**PARAMS, "grid": {"levels": "40", "range_pct": "0.02"}}
"""The test run's strategies with a dense grid (40 lines within 2 %): orders every hour."""


def kill_point_candles() -> list[Candle]:
    """The scenario's candles: two hours of real KRW-BTC minutes."""
    return real_candles(2)[WINDOW[0] : WINDOW[1]]


def random_kill_points(total: int, count: int, seed: int) -> list[int]:
    """Return `count` kill points drawn from 1..total (all of them when count >= total)."""
    if count >= total:
        return list(range(1, total + 1))
    return sorted(random.Random(seed).sample(range(1, total + 1), count))


def _kill_points_around_saves(trading: Trading, switch: KillSwitch) -> None:
    save = trading.save

    def killing_save(*objs: Any, **kwargs: Any) -> Any:
        switch.point()
        saved = save(*objs, **kwargs)
        switch.point()
        return saved

    trading.save = killing_save  # type: ignore[method-assign]


def _orphans(trading: Trading, exchange: FakeExchange) -> list[UUID]:
    placed = {e.originator_id for _, e in trading.read_events([Order.Placed.TOPIC])}
    acknowledged = {e.originator_id for _, e in trading.read_events([Order.Accepted.TOPIC])}
    at_exchange = set(exchange.orders)
    never_sent = {
        order_id
        for order_id in placed - at_exchange
        if trading.get_order(order_id).status is OrderStatus.NEW
    }
    unknown_to_log = at_exchange - acknowledged
    return sorted(never_sent | unknown_to_log)
