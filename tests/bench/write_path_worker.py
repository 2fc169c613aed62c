"""One side of the write-path A/B benchmark: a tree's own `Trading`, driven over stdin.

The coordinator (`tests/bench/write_path.py`) runs this file's text with `python -c` in the
directory of the tree under test, so every import below resolves to that tree's code. It
writes one line per slice of work: the seconds it took and the events it appended.

    place N      N place-order commands, one per transaction
    batch B K    B place-orders saves of K orders each (one transaction per save)
    quit

Only names both trees have are used: `Trading`, `AllocateCapital`, and the ledger-core
benchmark's `bench_cause` and `limit_bid`.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import commands.trading
from commands.messages import AllocateCapital
from commands.trading import Trading
from tests.bench.ledger_core import bench_cause, limit_bid


def serve(env: dict[str, str]) -> None:
    """Answer the coordinator's slices until `quit` or the end of stdin."""
    app = Trading(env)
    try:
        app.allocate_capital(AllocateCapital("bench", "1000000000000", bench_cause(0)))
        for n in range(50):  # warm the pool and the aggregate cache
            app.place_order(limit_bid(f"warm-{n}", bench_cause(n)))
        app.place_orders([limit_bid(f"warm-batch-{n}", bench_cause(n)) for n in range(100)])
        print(f"ready {Path(commands.trading.__file__).resolve()}", flush=True)  # noqa: T201
        made = 0
        for line in sys.stdin:
            verb, *numbers = line.split()
            if verb == "quit":
                break
            first = app.recorder.max_notification_id() or 0
            started = time.perf_counter()
            if verb == "place":
                for _ in range(int(numbers[0])):
                    made += 1
                    app.place_order(limit_bid(f"single-{made}", bench_cause(made)))
            elif verb == "batch":
                batches, size = int(numbers[0]), int(numbers[1])
                for _ in range(batches):
                    orders = []
                    for _ in range(size):
                        made += 1
                        orders.append(limit_bid(f"batch-{made}", bench_cause(made)))
                    app.place_orders(orders)
            else:
                raise SystemExit(f"unknown verb {verb!r}")
            elapsed = time.perf_counter() - started
            events = (app.recorder.max_notification_id() or 0) - first
            print(f"{elapsed:.6f} {events}", flush=True)  # noqa: T201 - the protocol
    finally:
        app.close()


if __name__ == "__main__":
    serve(json.loads(sys.argv[1]))
