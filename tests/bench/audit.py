"""Audit chain benchmarks (issue 8): event-append throughput with and without the chain.

The same workloads as the ledger-core benchmarks (batched place-orders saves; one place-order
command per transaction), each on a fresh schema, alternating the recorder that keeps the chain
(the ledger's) with one that records exactly as before the chain, several rounds; the overhead
is the relative loss of the median throughput. Then `ChainReader.verify` over the batched log,
and the time to render one event's canonical audit JSON (the chain's main cost per event).
"""

from __future__ import annotations

import statistics
import time
import timeit
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic
from psycopg.sql import SQL, Identifier, Literal

from adapters.postgres.chain_reader import ChainReader
from adapters.postgres.event_store import ensure_schema, eventsourcing_env
from adapters.postgres.recorder import LedgerProcessRecorder
from commands.messages import AllocateCapital
from commands.trading import Trading
from domain.audit.canonical import canonical_audit_json
from tests.bench.ledger_core import Figure, bench_cause, limit_bid
from tests.builders import every_event_through_the_application, trading_app


class MainRecorder(LedgerProcessRecorder):
    """The ledger's recorder as it was before the chain (main at 3563d67): four statements,
    SET LOCAL lock_timeout, LOCK, NOTIFY, INSERT ... RETURNING, one after the other."""

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
            curs.execute(SQL("NOTIFY {0}").format(Identifier(self.channel_name)))
            curs.execute(
                SQL(
                    "INSERT INTO {schema}.{table} (originator_id, originator_version, topic, "
                    "state) SELECT * FROM unnest(%s::uuid[], %s::bigint[], %s::text[], "
                    "%s::bytea[]) RETURNING notification_id"
                ).format(
                    schema=Identifier(self.datastore.schema),
                    table=Identifier(self.events_table_name),
                ),
                (
                    [e.originator_id for e in stored_events],
                    [e.originator_version for e in stored_events],
                    [e.topic for e in stored_events],
                    [e.state for e in stored_events],
                ),
                binary=True,
            )
            return [int(r["notification_id"]) for r in curs.fetchall()]


class UnchainedRecorder(LedgerProcessRecorder):
    """The ledger's recorder with the chain taken out and nothing else changed: the same two
    statements (lock, NOTIFY and the ids in one; the INSERT), no head, no links, no chain rows."""

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
            ids_query = SQL(
                "SELECT ARRAY(SELECT nextval({sequence}) FROM generate_series(1, {n})) AS ids"
            ).format(sequence=self.chain.sequence, n=Literal(len(stored_events)))
            curs.execute(
                SQL("; ").join(
                    [
                        *self.lock_table_statements,
                        SQL("NOTIFY {0}").format(Identifier(self.channel_name)),
                        ids_query,
                    ]
                )
            )
            while curs.description is None:
                assert curs.nextset()
            row = curs.fetchone()
            assert row is not None
            ids = sorted(int(i) for i in row["ids"])
            curs.execute(
                SQL(
                    "INSERT INTO {schema}.{table} (notification_id, originator_id, "
                    "originator_version, topic, state) SELECT * FROM unnest(%s::bigint[], "
                    "%s::uuid[], %s::bigint[], %s::text[], %s::bytea[])"
                ).format(
                    schema=Identifier(self.datastore.schema),
                    table=Identifier(self.events_table_name),
                ),
                (
                    ids,
                    [e.originator_id for e in stored_events],
                    [e.originator_version for e in stored_events],
                    [e.topic for e in stored_events],
                    [e.state for e in stored_events],
                ),
                prepare=True,
                binary=True,
            )
            return ids


MAIN = get_topic(MainRecorder)
UNCHAINED = get_topic(UnchainedRecorder)


def _batched(env: Mapping[str, str], batches: int, orders: int) -> float:
    app = Trading(env)
    try:
        app.allocate_capital(AllocateCapital("bench", "1000000000000", bench_cause(0)))
        app.place_orders([limit_bid(f"warm-{n}", bench_cause(n)) for n in range(orders)])
        before = app.recorder.max_notification_id() or 0
        started = time.perf_counter()
        for b in range(batches):
            app.place_orders([limit_bid(f"b-{b}-{n}", bench_cause(n)) for n in range(orders)])
        elapsed = time.perf_counter() - started
        return ((app.recorder.max_notification_id() or 0) - before) / elapsed
    finally:
        app.close()


def _singles(env: Mapping[str, str], count: int) -> float:
    app = Trading(env)
    try:
        app.allocate_capital(AllocateCapital("bench", "1000000000000", bench_cause(0)))
        for n in range(30):
            app.place_order(limit_bid(f"warm-{n}", bench_cause(n)))
        started = time.perf_counter()
        for n in range(count):
            app.place_order(limit_bid(f"s-{n}", bench_cause(n)))
        return count / (time.perf_counter() - started)
    finally:
        app.close()


RECORDERS = {"main": MAIN, "unchained": UNCHAINED, "chained": None}


def _compare(
    conninfo: str, name: str, rounds: int, workload: Callable[[Mapping[str, str]], float]
) -> tuple[dict[str, float], list[str]]:
    """Return the median rate of each recorder, and the schemas used (rotating the order)."""
    rates: dict[str, list[float]] = {k: [] for k in RECORDERS}
    schemas = []
    order = list(RECORDERS)
    for r in range(rounds):
        for kind in order[r % 3 :] + order[: r % 3]:
            schema = f"bench_audit_{name}_{r}_{kind}"
            ensure_schema(conninfo, schema)
            env = dict(eventsourcing_env(conninfo, schema=schema))
            topic = RECORDERS[kind]
            if topic is not None:
                env["PROCESS_RECORDER_TOPIC"] = topic
            rates[kind].append(workload(env))
            schemas.append(schema)
    return {k: statistics.median(v) for k, v in rates.items()}, schemas


def _overhead(name: str, unit: str, rates: dict[str, float], rounds: int, what: str) -> Figure:
    base, chained, main = rates["unchained"], rates["chained"], rates["main"]
    overhead = (base - chained) / base * 100
    return Figure(
        f"chain maintenance overhead, {name}",
        overhead,
        f"% of {unit}",
        "< 10",
        overhead < 10,
        f"median of {rounds} runs each: {base:,.0f} {unit} with the chain taken out of the "
        f"recorder, {chained:,.0f} with it; {main:,.0f} with main's recorder (before this "
        f"change; the chained recorder costs {(main - chained) / main * 100:+.1f} % against it) "
        f"({what})",
    )


def bench_chain_overhead(conninfo: str, *, rounds: int = 3) -> list[Figure]:
    """Append throughput with and without the chain (batched and single saves), and a verify."""
    figures = []
    rates, schemas = _compare(
        conninfo, "batched", rounds, lambda env: _batched(env, batches=20, orders=500)
    )
    figures.append(
        _overhead("batched saves", "events/s", rates, rounds, "20 saves of 1,000 events")
    )
    rates, _ = _compare(conninfo, "single", rounds, lambda env: _singles(env, count=1000))
    figures.append(
        _overhead(
            "one command per transaction", "commands/s", rates, rounds, "place-order, 2 events"
        )
    )
    chained_schema = next(s for s in schemas if s.endswith("_chained"))
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
    figures.extend(bench_canonical_json())
    return figures


def bench_canonical_json(*, number: int = 20_000, repeat: int = 7) -> list[Figure]:
    """Time to render the canonical audit JSON of three stored events (no database)."""
    app = trading_app()
    try:
        every_event_through_the_application(app)
        stored = {n.topic: n for n in app.recorder.select_notifications(start=1, limit=10_000)}
    finally:
        app.close()
    figures = []
    for topic in ("market.candle.ingested", "order.placed", "strategy.run.started"):
        n = stored[topic]
        args = (n.id, n.topic, n.originator_id, n.originator_version, n.state)
        best = min(
            timeit.repeat(lambda a=args: canonical_audit_json(*a), number=number, repeat=repeat)
        )
        figures.append(
            Figure(
                f"canonical audit JSON, {topic}",
                best / number * 1e6,
                "µs/event",
                "(informational)",
                True,
                f"{len(n.state)} bytes stored; best of {repeat} runs of {number:,}",
            )
        )
    return figures
