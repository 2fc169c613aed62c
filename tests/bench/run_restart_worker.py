"""A restarted trading run, for `tests/bench/run_restart.py`: resume, take the new candle.

Opens the log named by the environment (the event store's keys), resumes the run given as the
first argument and processes what is new; prints how many candles it processed.
"""

from __future__ import annotations

import os
import sys

from commands.processes.trading_loop import TradingLoop
from commands.trading import Trading
from tests.unit.commands.processes.runs import paper


def main() -> int:
    log = Trading(dict(os.environ), account="main")
    try:
        processed = TradingLoop(log, sys.argv[1], paper).step()
        print(processed, flush=True)  # noqa: T201 - read by the benchmark
    finally:
        log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
