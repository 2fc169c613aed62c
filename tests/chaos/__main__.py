"""`make chaos`: a trading run killed at random kill points, each checked against an unbroken run.

    python -m tests.chaos                  # 10,000 random kill points, all cores
    python -m tests.chaos --kills 500 --seed 7 --workers 2

Each kill point is one scenario of `tests/chaos/kill_points.py`: the run over two hours of
real candles on the in-memory exchange, killed there (its memory lost), resumed by a new
`TradingLoop`, traded to the end. Prints progress, then the duplicates (orders sent twice),
orphans (orders at the exchange the log does not show acknowledged, or placed and never sent)
and differing runs (decision events not the uninterrupted run's); exits 1 unless all are 0.
Not part of `make test` (about an hour on two cores); CI runs a spread of the kill points
(`tests/unit/commands/processes/test_kill_points.py`).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time

from tests.chaos.kill_points import Outcome, kill_point_candles, random_kill_points, run_scenario


def _scenario(kill_at: int) -> Outcome:
    return run_scenario(_CANDLES, kill_at)


_CANDLES = kill_point_candles()


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.chaos",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--kills", type=int, default=10_000, help="kill points (default 10,000)")
    parser.add_argument("--seed", type=int, default=18, help="seed of the random kill points")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    if args.kills < 1 or args.workers < 1:
        parser.error(f"--kills {args.kills} and --workers {args.workers} must be at least 1")
    started = time.perf_counter()
    base = run_scenario(_CANDLES, None)
    print(f"uninterrupted: {base.kill_points:,} kill points, {base.decisions:,} decision events, "
          f"replay hash {base.decisions_hash[:16]}")  # fmt: skip
    if base.duplicates or base.orphans:
        print(f"the uninterrupted run itself has duplicates {base.duplicates} or orphans "
              f"{base.orphans}")  # fmt: skip
        return 1
    # Drawn with replacement past the run's kill points: each point is tried at least once.
    points = random_kill_points(base.kill_points, min(args.kills, base.kill_points), args.seed)
    while len(points) < args.kills:
        points += random_kill_points(base.kill_points, args.kills - len(points), len(points))
    duplicates = orphans = differing = 0
    with multiprocessing.Pool(args.workers) as pool:
        for n, outcome in enumerate(pool.imap_unordered(_scenario, points, chunksize=4), 1):
            duplicates += len(outcome.duplicates)
            orphans += len(outcome.orphans)
            if outcome.decisions_hash != base.decisions_hash:
                differing += 1
                print(f"  kill point {outcome.kill_at}: the run differs "
                      f"({outcome.decisions} decision events)")  # fmt: skip
            if n % 100 == 0 or n == len(points):
                rate = n / (time.perf_counter() - started)
                print(f"{n:,}/{len(points):,} kill points ({rate:.1f}/s): duplicates "
                      f"{duplicates}, orphans {orphans}, differing runs {differing}",
                      flush=True)  # fmt: skip
    print(f"kill points {len(points):,}: duplicates {duplicates}, orphans {orphans}, "
          f"differing runs {differing}")  # fmt: skip
    return 0 if duplicates == orphans == differing == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
