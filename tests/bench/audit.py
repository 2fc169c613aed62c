"""Audit chain benchmarks (issue 8): event-append throughput with and without the chain.

The same workloads as the ledger-core benchmarks (batched place-orders saves; one place-order
command per transaction) on three applications at once, each on a fresh schema: one with the
recorder that keeps the chain (the ledger's), one with the same recorder with the chain taken
out, one with main's recorder from before the chain. They take turns step by step, so that a
checkpoint, autovacuum or another process on the machine falls on all three alike; the
overhead is the relative loss of throughput over all steps of a run, the median of three runs.
Then `ChainReader.verify` over the batched log (without, then with its snapshots checked),
and the time to render one event's canonical audit JSON.
"""

from __future__ import annotations

import statistics
import time
import timeit
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, NamedTuple, Protocol

from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic
from psycopg.sql import SQL, Identifier, Literal

from adapters.postgres.chain_reader import ChainReader
from adapters.postgres.event_store import ensure_schema, eventsourcing_env
from adapters.postgres.recorder import LedgerProcessRecorder
from adapters.postgres.snapshot_audit import SnapshotAudit
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
            # (no tracking row: the benchmark's saves carry none)
            if not stored_events:
                return None
            for statement in self.lock_table_statements:
                curs.execute(statement)
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
    """The ledger's recorder as it is without the chain: the lock, the NOTIFY and the ids drawn
    in one statement (no head to read, so no second one), then the events' INSERT; no links,
    no chain rows."""

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        with (
            self.datastore.get_connection() as conn,
            conn.transaction(),
            conn.cursor() as curs,
        ):
            # (no tracking row: the benchmark's saves carry none)
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


class Workload(Protocol):
    """A workload run in steps on one application per recorder, the recorders taking turns."""

    def set_up(self, app: Trading) -> None:
        """Prepare `app` (capital, warm-up) before the timed steps."""

    def step(self, app: Trading, n: int) -> None:
        """Do the `n`th timed step on `app`."""


@dataclass(frozen=True)
class BatchedSaves:
    """Saves of `orders` place-order commands each (two events an order)."""

    orders: int

    def set_up(self, app: Trading) -> None:
        app.allocate_capital(AllocateCapital("bench", "1000000000000", bench_cause(0)))
        app.place_orders([limit_bid(f"warm-{n}", bench_cause(n)) for n in range(self.orders)])

    def step(self, app: Trading, n: int) -> None:
        app.place_orders([limit_bid(f"b-{n}-{k}", bench_cause(k)) for k in range(self.orders)])


@dataclass(frozen=True)
class SingleCommands:
    """`commands` place-order commands, each its own transaction."""

    commands: int

    def set_up(self, app: Trading) -> None:
        app.allocate_capital(AllocateCapital("bench", "1000000000000", bench_cause(0)))
        for n in range(30):
            app.place_order(limit_bid(f"warm-{n}", bench_cause(n)))

    def step(self, app: Trading, n: int) -> None:
        for k in range(self.commands):
            app.place_order(limit_bid(f"s-{n}-{k}", bench_cause(k)))


RECORDERS = {"main": MAIN, "unchained": UNCHAINED, "chained": None}


class Step(NamedTuple):
    """One timed step: the events it recorded and the seconds it took."""

    events: int
    seconds: float


def _interleaved(
    conninfo: str, name: str, workload: Workload, steps: int
) -> tuple[dict[str, list[Step]], list[str]]:
    """Run `steps` steps of `workload` on one application per recorder, each on a fresh schema,
    the recorders taking turns step by step (the first of each turn rotating), so that whatever
    the machine does meanwhile (a checkpoint, autovacuum, another process) falls on all of
    them alike. Return each recorder's steps and the schemas used."""
    apps: dict[str, Trading] = {}
    schemas = []
    try:
        for kind, topic in RECORDERS.items():
            schema = f"bench_audit_{name}_{kind}"
            ensure_schema(conninfo, schema)
            env = dict(eventsourcing_env(conninfo, schema=schema))
            if topic is not None:
                env["PROCESS_RECORDER_TOPIC"] = topic
            apps[kind] = Trading(env)
            workload.set_up(apps[kind])
            schemas.append(schema)
        steps_taken: dict[str, list[Step]] = {k: [] for k in apps}
        recorded = {k: app.recorder.max_notification_id() or 0 for k, app in apps.items()}
        kinds = list(apps)
        for n in range(steps):
            for kind in kinds[n % len(kinds) :] + kinds[: n % len(kinds)]:
                app = apps[kind]
                started = time.perf_counter()
                workload.step(app, n)
                seconds = time.perf_counter() - started
                before, recorded[kind] = recorded[kind], app.recorder.max_notification_id() or 0
                steps_taken[kind].append(Step(recorded[kind] - before, seconds))
        return steps_taken, schemas
    finally:
        for app in apps.values():
            app.close()


def _overhead(
    name: str, steps: dict[str, list[Step]], per_unit: int, unit: str, what: str
) -> Figure:
    """The chain's overhead: the relative loss of throughput over all steps, chained against
    unchained; the spread is that of the loss turn by turn (each turn's steps side by side)."""

    def rate(kind: str) -> float:
        taken = steps[kind]
        return sum(s.events for s in taken) / per_unit / sum(s.seconds for s in taken)

    base, chained, main = rate("unchained"), rate("chained"), rate("main")
    overhead = (base - chained) / base * 100
    per_turn = sorted(
        (c.seconds / c.events - u.seconds / u.events) / (c.seconds / c.events) * 100
        for c, u in zip(steps["chained"], steps["unchained"], strict=True)
    )
    quartiles = statistics.quantiles(per_turn, n=4)
    return Figure(
        f"chain maintenance overhead, {name}",
        overhead,
        f"% of {unit}",
        "< 10",
        overhead < 10,
        f"{len(per_turn)} turns of {what}: {base:,.0f} {unit} with the chain taken out of the "
        f"recorder, {chained:,.0f} with it; {main:,.0f} with main's recorder (before the chain; "
        f"the chained recorder costs {(main - chained) / main * 100:+.1f} % against it); the "
        f"loss turn by turn: median {quartiles[1]:.1f} %, middle half {quartiles[0]:.1f} to "
        f"{quartiles[2]:.1f} %",
    )


RUNS = 3
"""Interleaved runs of each workload: one run's loss moves by a point or two from run to run on
a shared machine, so the figure is the median run's."""


def bench_chain_overhead(conninfo: str) -> list[Figure]:
    """Append throughput with and without the chain (batched and single saves), and a verify."""
    batched, singles, schemas = [], [], []
    for run in range(RUNS):
        steps, schemas = _interleaved(conninfo, f"b{run}", BatchedSaves(orders=500), steps=30)
        batched.append(
            _overhead("batched saves", steps, 1, "events/s", "a save of 1,000 events (500 orders)")
        )
        steps, _ = _interleaved(conninfo, f"s{run}", SingleCommands(commands=25), steps=80)
        singles.append(
            _overhead(
                "one command per transaction",
                steps,
                2,
                "commands/s",
                "25 place-order commands (2 events each)",
            )
        )
    figures = [_median_run(batched), _median_run(singles)]
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
    figures.extend(_verify_with_snapshots(conninfo, chained_schema, rate))
    figures.extend(bench_canonical_json())
    return figures


def _verify_with_snapshots(conninfo: str, schema: str, plain_rate: float) -> list[Figure]:
    """`ledger audit verify` as the CLI runs it: every aggregate with a snapshot rebuilt from
    its chained events (here the account's ledger: half the log's events, a snapshot a save)
    and its newest snapshot checked; then with `--every-snapshot`, each snapshot checked (here
    each holds every placement of the run: the bench places them all within a second of
    domain time, so the rate window never trims them)."""
    app = Trading(dict(eventsourcing_env(conninfo, schema=schema)))
    figures = []
    try:
        reader = ChainReader(conninfo, schema, snapshots=SnapshotAudit.of(app))
        for every in (False, True):
            outcome = reader.verify(every_snapshot=every)
            rate = outcome.events_checked / outcome.seconds
            figures.append(
                Figure(
                    "ledger audit verify --every-snapshot"
                    if every
                    else "ledger audit verify, snapshots checked",
                    rate,
                    "events/s",
                    "(informational)" if every else "(1,000,000 in < 60 s: >= 16,667)",
                    outcome.is_intact and (every or rate >= 16_667),
                    f"{outcome.events_checked:,} events in {outcome.seconds:.2f} s, "
                    f"{outcome.snapshots_checked:,} snapshots checked"
                    f"{'' if every else f' ({outcome.snapshots_superseded:,} older not)'}, "
                    f"intact: {outcome.is_intact}; {plain_rate / rate - 1:.0%} more time than "
                    "without",
                )
            )
    finally:
        app.close()
    return figures


def _median_run(runs: list[Figure]) -> Figure:
    """Return the median run's figure, with every run's loss in its detail."""
    median = sorted(runs, key=lambda f: f.value)[len(runs) // 2]
    losses = ", ".join(f"{f.value:.1f}" for f in runs)
    return replace(median, detail=f"median of {len(runs)} runs ({losses} %); {median.detail}")


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
