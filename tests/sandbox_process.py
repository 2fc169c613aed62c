"""`ledger sandbox` run as its own process on a free loopback port, for e2e tests and benchmarks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from adapters.sandbox_exchange.process import sandbox_process as start_sandbox

FIXTURE = (
    Path(__file__).resolve().parent
    / "fixtures"
    / "candles"
    / "upbit-KRW-BTC-1m-2023-03-09_2023-03-16.csv.gz"
)


@contextmanager
def sandbox_process(*flags: str, candles: Path = FIXTURE) -> Iterator[str]:
    """Run `ledger sandbox --candles CANDLES FLAGS...`; yield its base URL; stop it after."""
    with start_sandbox(candles, *flags, timeout_s=30) as url:
        yield url
