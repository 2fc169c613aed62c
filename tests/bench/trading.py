"""Trading system benchmark (issue 7): a day of candles through `ledger run` on the sandbox.

`ledger sandbox --paced` runs in its own process on a day of real 1-minute candles (the first
day of the repository's fixture); `ledger run --exchange sandbox --exchange-url URL
--until-end` trades it in its own process on a fresh data dir (embedded PostgreSQL and NATS),
relay, projectors and API included. Figures: the whole command's wall time against the day's
1,440 minutes (start-up and the read models' catch-up included), and, measured by the sandbox,
the wall time from the moment its clock closed a minute to each order created at that close
(the orders of the first close, which wait for the system's start-up, left out). The grid is
dense (40 lines within 2 %) so that the day has orders to time.
"""

from __future__ import annotations

import gzip
import os
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from tests.bench.ledger_core import Figure
from tests.sandbox_process import FIXTURE, sandbox_process

LEDGER = str(Path(__file__).resolve().parents[2] / ".venv" / "bin" / "ledger")
DAY = "2023-03-10"
GRID = ("--param", "grid.levels=40", "--param", "grid.range_pct=0.02")
"""A dense grid (40 lines within 2 %), so that the day has orders to time."""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


REAL_TIME_WINDOW = ("2023-03-13T00:00", "2023-03-13T03:00")
"""Three hours of a volatile day (the crash test's), traded at real-time pacing."""
REAL_TIME_SPEED = "60"
"""Market minutes per wall minute for the latency figure: one minute a second, so each close
starts with the order rate budget Upbit gives a real minute (12 orders a second)."""


def _slice(directory: Path, keep: Callable[[str], bool]) -> Path:
    path = directory / "candles.csv.gz"
    with gzip.open(FIXTURE, "rt") as source:
        lines = source.read().splitlines()
    kept = [lines[0], *[x for x in lines[1:] if keep(x)]]
    with gzip.open(path, "wt") as target:
        target.write("\n".join(kept) + "\n")
    return path


def _trade(candles: Path, start: str, speed: str) -> tuple[float, int, dict[str, Any]]:
    """Run `ledger run` on a paced sandbox; return wall time, minutes and the sandbox latency."""
    with gzip.open(candles, "rt") as rows:
        minutes = sum(1 for _ in rows) - 1
    flags = ("--paced", "--speed", speed, "--start", f"{start}:00+00:00")
    with tempfile.TemporaryDirectory(prefix="ledger-bench-trading-") as tmp:
        data_dir = Path(tmp) / "ledger"
        with sandbox_process(*flags, "--krw", "30000000", candles=candles) as url:
            started = time.perf_counter()
            done = subprocess.run(
                [LEDGER, "--data-dir", str(data_dir), "run", "--exchange", "sandbox",
                 "--exchange-url", url, "--until-end", "--port", str(_free_port()), *GRID],
                env={**os.environ, "COLUMNS": "200"}, capture_output=True, text=True,
                timeout=3600, check=False,
            )  # fmt: skip
            elapsed = time.perf_counter() - started
            # Orders at the first close wait for the system's start-up: left out.
            first = datetime.fromisoformat(f"{start}:00+00:00") + timedelta(minutes=1)
            latency = httpx.get(
                f"{url}/sandbox/latency", params={"after": first.isoformat()}
            ).json()
        subprocess.run([LEDGER, "--data-dir", str(data_dir), "services", "down"], check=False)
        if done.returncode != 0:
            raise RuntimeError(f"ledger run failed: {done.stderr[-2000:]}")
    return elapsed, minutes, latency


def _latency_detail(latency: dict[str, Any]) -> str:
    return (
        f"{latency['orders']} orders after the first close; p50 "
        f"{(latency['p50_s'] or 0) * 1000:.1f} ms, max {(latency['max_s'] or 0) * 1000:.1f} ms"
    )


def bench_sandbox_day() -> list[Figure]:
    """Run a day of candles through the whole system against the sandbox, then three hours at
    real-time pacing for the latency."""
    with tempfile.TemporaryDirectory(prefix="ledger-bench-candles-") as tmp:
        day = _slice(Path(tmp), lambda line: line.startswith(DAY))
        elapsed, minutes, compressed = _trade(day, f"{DAY}T00:00", "1000000")
        lo, hi = REAL_TIME_WINDOW
        window = _slice(Path(tmp), lambda line: lo <= line[:16] < hi)
        _, window_minutes, paced = _trade(window, lo, REAL_TIME_SPEED)
    speed = minutes * 60 / elapsed
    p99_ms = (paced["p99_s"] or 0) * 1000
    compressed_p99_ms = (compressed["p99_s"] or 0) * 1000
    return [
        Figure(
            "a day of 1-minute candles through `ledger run` on the sandbox",
            speed,
            "x real time",
            ">= 500x",
            speed >= 500,
            f"{minutes:,} candles in {elapsed:.1f} s, start-up and catch-up included",
        ),
        Figure(
            "candle close -> order at the sandbox, p99 (real-time pacing)",
            p99_ms,
            "ms",
            "<= 200 ms",
            paced["orders"] > 0 and p99_ms <= 200,
            f"{window_minutes} minutes of {lo[:10]} at one minute a second; "
            + _latency_detail(paced),
        ),
        Figure(
            "candle close -> order at the sandbox, p99, in the day above (compressed)",
            compressed_p99_ms,
            "ms",
            "(no target: about 25 minutes share each wall second, and with them the order "
            "rate budget)",
            True,
            _latency_detail(compressed),
        ),
    ]
