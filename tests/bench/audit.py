"""Audit chain benchmarks (issue 8): event-append throughput with and without the chain.

The same workloads as the ledger-core benchmarks (batched place-orders saves; one place-order
command per transaction), each on a fresh schema, alternating the recorder that keeps the chain
(the ledger's) with one that records exactly as before the chain, several rounds; the overhead
is the relative loss of the median throughput. Then `ChainReader.verify` over the batched log.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from adapters.postgres.chain_reader import ChainReader
from adapters.postgres.event_store import ensure_schema, eventsourcing_env
from adapters.postgres.recorder import LedgerProcessRecorder
from commands.messages import AllocateCapital
from commands.trading import Trading
from tests.bench.ledger_core import Figure, _cause, _limit_bid


class UnchainedRecorder(LedgerProcessRecorder):
    """The ledger's recorder as it was before the chain: lock, notify, insert, ids."""

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        with (
            self.datastore.get_connection() as conn,
            conn.transaction(),
            conn.cursor() as curs,
        ):
            self._insert_events(curs, stored_events, **kwargs)
            if not stored_events:
                return None
            self._lock_table(curs)
            self._insert_stored_events(curs, stored_events, **kwargs)
            ids = {
                (str(r["originator_id"]), int(r["originator_version"])): int(r["notification_id"])
                for r in curs.fetchall()
            }
            return [ids[(str(e.originator_id), e.originator_version)] for e in stored_events]


UNCHAINED = get_topic(UnchainedRecorder)


def _batched(env: Mapping[str, str], batches: int, orders: int) -> float:
    app = Trading(env)
    try:
        app.allocate_capital(AllocateCapital("bench", "1000000000000", _cause(0)))
        app.place_orders([_limit_bid(f"warm-{n}", n) for n in range(orders)])
        before = app.recorder.max_notification_id() or 0
        started = time.perf_counter()
        for b in range(batches):
            app.place_orders([_limit_bid(f"b-{b}-{n}", n) for n in range(orders)])
        elapsed = time.perf_counter() - started
        return ((app.recorder.max_notification_id() or 0) - before) / elapsed
    finally:
        app.close()


def _singles(env: Mapping[str, str], count: int) -> float:
    app = Trading(env)
    try:
        app.allocate_capital(AllocateCapital("bench", "1000000000000", _cause(0)))
        for n in range(30):
            app.place_order(_limit_bid(f"warm-{n}", n))
        started = time.perf_counter()
        for n in range(count):
            app.place_order(_limit_bid(f"s-{n}", n))
        return count / (time.perf_counter() - started)
    finally:
        app.close()


def _compare(
    conninfo: str, name: str, rounds: int, workload: Callable[[Mapping[str, str]], float]
) -> tuple[float, float, list[str]]:
    """Return the median rate without and with the chain, and each schema used."""
    rates: dict[bool, list[float]] = {False: [], True: []}
    schemas = []
    for r in range(rounds):
        for is_chained in (False, True) if r % 2 == 0 else (True, False):
            schema = f"bench_audit_{name}_{r}_{'chained' if is_chained else 'plain'}"
            ensure_schema(conninfo, schema)
            env = dict(eventsourcing_env(conninfo, schema=schema))
            if not is_chained:
                env["PROCESS_RECORDER_TOPIC"] = UNCHAINED
            rates[is_chained].append(workload(env))
            schemas.append(schema)
    return statistics.median(rates[False]), statistics.median(rates[True]), schemas


def bench_chain_overhead(conninfo: str, *, rounds: int = 3) -> list[Figure]:
    """Append throughput with and without the chain (batched and single saves), and a verify."""
    figures = []
    plain, chained, schemas = _compare(
        conninfo, "batched", rounds, lambda env: _batched(env, batches=20, orders=500)
    )
    overhead = (plain - chained) / plain * 100
    figures.append(
        Figure(
            "chain maintenance overhead, batched saves",
            overhead,
            "% of events/s",
            "< 10",
            overhead < 10,
            f"median of {rounds} runs each: {plain:,.0f} events/s without the chain, "
            f"{chained:,.0f} with it (20 saves of 500 orders, 1,000 events each)",
        )
    )
    plain_s, chained_s, _ = _compare(
        conninfo, "single", rounds, lambda env: _singles(env, count=1000)
    )
    overhead_s = (plain_s - chained_s) / plain_s * 100
    figures.append(
        Figure(
            "chain maintenance overhead, one command per transaction",
            overhead_s,
            "% of commands/s",
            "< 10",
            overhead_s < 10,
            f"median of {rounds} runs each: {plain_s:,.0f} place-order commands/s without the "
            f"chain, {chained_s:,.0f} with it (2 events each)",
        )
    )
    chained_schema = next(s for s in schemas if s.endswith("chained"))
    outcome = ChainReader(conninfo, chained_schema).verify()
    rate = outcome.events_checked / outcome.seconds
    figures.append(
        Figure(
            "ledger audit verify",
            rate,
            "events/s",
            "(1,000,000 in < 60 s: >= 16,667)",
            outcome.is_intact and rate >= 16_667,
            f"{outcome.events_checked:,} events in {outcome.seconds:.2f} s, intact: "
            f"{outcome.is_intact}",
        )
    )
    return figures
