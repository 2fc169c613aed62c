"""`ledger audit export` of two revisions side by side, on logs each revision recorded.

    python -m tests.bench.audit_export_ab --before 3276acd --events 100000 --rounds 6

The million-event export takes about a minute, and this machine's speed drifts by more than a
change to the export costs between two such runs. Here each revision (`--before`, in a `git
worktree`, and this tree) records the audit-export bench's log (`build_log`, `--events`
events) into a database of its own on one embedded PostgreSQL, then the two export their whole
log to a directory in turns, each export a fresh process on its own code, the first of each
turn alternating. Printed: every export's seconds and each side's median.
"""

from __future__ import annotations

import signal
import statistics
import subprocess
import sys
from pathlib import Path

import psycopg
from psycopg.conninfo import make_conninfo

from tests.bench.__main__ import fresh_postgres
from tests.bench.write_path import REPO, at_least_one, revision_parser, tree_env, worktree

WORKER = """
import sys, tempfile, time
from datetime import UTC, datetime
from pathlib import Path
from adapters.audit_bundle import export
from adapters.postgres.chain_reader import ChainReader
from adapters.postgres.event_store import eventsourcing_env
from commands.trading import Trading
from domain.audit.selection import BundleSelection
from tests.bench import audit_export
url, verb = sys.argv[1], sys.argv[2]
if verb == "build":
    print(audit_export.build_log(url, int(sys.argv[3]))[0])
else:
    provenance = export.Provenance("bench", "0" * 64, datetime.now(tz=UTC))
    app = Trading(dict(eventsourcing_env(url, schema=audit_export.SCHEMA)))
    sealer = getattr(export, "ledger_sealer", None)  # revisions before issue 17 seal nothing
    seal = () if sealer is None else (sealer(app, provenance.exported_at),)
    reader = ChainReader(url, audit_export.SCHEMA)
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        export.export_bundle(reader, BundleSelection(), Path(tmp) / "b", provenance, *seal)
        print(f"{time.perf_counter() - started:.3f}")
    app.close()
"""


def main() -> int:
    parser = revision_parser("python -m tests.bench.audit_export_ab", __doc__)
    parser.add_argument("--events", type=at_least_one, default=100_000, help="log size (100000)")
    parser.add_argument("--rounds", type=at_least_one, default=6, help="exports per side (6)")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # `finally` blocks still run
    with worktree(args.before) as before_tree, fresh_postgres() as base:
        trees = {"before": before_tree, "after": REPO}
        with psycopg.connect(base, autocommit=True) as conn:
            for side in trees:
                conn.execute(f"CREATE DATABASE ab_{side}")
        urls = {side: make_conninfo(base, dbname=f"ab_{side}") for side in trees}
        for side, tree in trees.items():
            built = run(tree, urls[side], "build", str(args.events))
            print(f"{side}: log of {int(built):,} events recorded", file=sys.stderr)  # noqa: T201
        seconds: dict[str, list[float]] = {side: [] for side in trees}
        for turn in range(args.rounds):
            for side in ("before", "after") if turn % 2 == 0 else ("after", "before"):
                seconds[side].append(float(run(trees[side], urls[side], "export")))
            print(  # noqa: T201 - progress
                f"turn {turn + 1}/{args.rounds}: before {seconds['before'][-1]:.2f} s, "
                f"after {seconds['after'][-1]:.2f} s",
                file=sys.stderr,
            )
    medians = {side: statistics.median(found) for side, found in seconds.items()}
    for side, found in seconds.items():
        shown = ", ".join(f"{s:.2f}" for s in found)
        print(f"{side}: median {medians[side]:.2f} s ({shown})")  # noqa: T201 - the report
    print(f"change: {medians['after'] / medians['before'] - 1:+.1%}")  # noqa: T201
    return 0


def run(tree: Path, url: str, *args: str) -> str:
    """Run the worker on `tree`'s code; return what it printed."""
    done = subprocess.run(
        [sys.executable, "-c", WORKER, url, *args],
        cwd=tree,
        env=tree_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the worker on {tree} failed:\n{done.stderr[-2000:]}")
    return done.stdout.strip()


if __name__ == "__main__":
    sys.exit(main())
