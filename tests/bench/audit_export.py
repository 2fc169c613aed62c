"""Audit bundle benchmarks (issue 8): export and verify a 1,000,000-event log, each < 60 s.

The log is built through the ledger's own recorder (so it is chained, with its checkpoints),
hour by hour: a thousand orders placed, the hour's one-minute KRW-BTC candles, and one order
placed, accepted and filled (its ledger and position events with it), until it holds at least
a million events (about 500 hours; mostly order and reservation events, as a busy account's
log). Then, each timed on its own: the whole log exported to a directory and to a .tar.gz;
the bundle verified by its own verify_bundle.py run with `python3 -I -S` (nothing but the
standard library), on the directory and on the archive; and a one-day export of the same log
(which still walks and proves every event).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from adapters.audit_bundle.export import Provenance, export_bundle, ledger_sealer
from adapters.postgres.chain_reader import ChainReader
from adapters.postgres.event_store import ensure_schema, eventsourcing_env
from commands.messages import AcceptOrder, AllocateCapital, IngestCandles, RecordFill
from commands.trading import Trading
from domain.audit.selection import BundleSelection
from domain.events import Cause
from tests.bench.cqrs import _hour_of_candles
from tests.bench.ledger_core import Figure, limit_bid

SCHEMA = "bench_audit_export"
TARGET_EVENTS = 1_000_000
ORDERS_PER_HOUR = 1000
START = datetime(2024, 1, 1, tzinfo=UTC)
LIMIT_S = 60.0


def _cause(at: datetime, what: str) -> Cause:
    return Cause(at, "bench", what, what)


def _trade(app: Trading, day: int, at: datetime) -> None:
    order_id = app.place_order(limit_bid(f"d-{day}", _cause(at, f"order-{day}")))
    app.accept_order(AcceptOrder(order_id, f"upbit-{day}", _cause(at, f"accept-{day}")))
    app.record_fill(
        RecordFill(order_id, f"t-{day}", "50000000", "0.001", "25", _cause(at, f"fill-{day}"))
    )


def build_log(conninfo: str, target: int = TARGET_EVENTS) -> tuple[int, float]:
    """Record orders, candles and trades until the log holds `target` events; return (n, s).

    Each simulated hour: 1,000 orders placed in one save (order.placed and ledger.cash.reserved
    each), the hour's 60 candles (two events), and one order placed, accepted and filled.
    """
    ensure_schema(conninfo, SCHEMA)
    app = Trading(dict(eventsourcing_env(conninfo, schema=SCHEMA)))
    started = time.perf_counter()
    try:
        app.allocate_capital(AllocateCapital("bench", "100000000000000", _cause(START, "capital")))
        h = 0
        while (app.recorder.max_notification_id() or 0) < target:
            hour = START + timedelta(hours=h)
            app.place_orders(
                [
                    limit_bid(f"h{h}-{n}", _cause(hour + timedelta(seconds=n * 3), f"h{h}-{n}"))
                    for n in range(ORDERS_PER_HOUR)
                ]
            )
            app.ingest_candles(
                [IngestCandles("KRW-BTC", hour, _hour_of_candles(h), "bench", _cause(hour, "c"))],
                assume_new=True,
            )
            _trade(app, h, hour + timedelta(minutes=59))
            h += 1
        return int(app.recorder.max_notification_id() or 0), time.perf_counter() - started
    finally:
        app.close()


def _timed(action: Callable[[], object]) -> tuple[object, float]:
    started = time.perf_counter()
    found = action()
    return found, time.perf_counter() - started


def _verify_alone(bundle: Path) -> tuple[subprocess.CompletedProcess[str], float, float]:
    """Run the bundle's own verifier with python3 alone; return it, seconds, peak RSS in MiB."""
    script = (bundle if bundle.is_dir() else bundle.parent / "verify_bundle.py").resolve()
    if script.is_dir():
        script = script / "verify_bundle.py"
    python = shutil.which("python3") or sys.executable
    # The script as `python3 -I -S verify_bundle.py BUNDLE` runs it, then its own peak RSS.
    wrapper = (
        "import runpy, sys\n"
        f"sys.argv = [{str(script)!r}, {str(bundle)!r}]\n"
        "try:\n"
        f"    runpy.run_path({str(script)!r}, run_name='__main__')\n"
        "except SystemExit as done:\n"
        "    code = done.code\n"
        # VmHWM: the peak RSS of this program since its exec (ru_maxrss would count the
        # benchmark's own memory, inherited across the fork)
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]\n"
        "print('peak_kib', hwm, file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    started = time.perf_counter()
    done = subprocess.run(
        [python, "-I", "-S", "-c", wrapper],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin"},
    )
    seconds = time.perf_counter() - started
    peak = (
        float(done.stderr.split("peak_kib")[-1].split()[0]) / 1024
        if "peak_kib" in done.stderr
        else -1.0
    )
    return done, seconds, peak


def _size(path: Path) -> float:
    if path.is_file():
        return path.stat().st_size / 2**20
    return sum(p.stat().st_size for p in path.iterdir()) / 2**20


def bench_export_and_verify(conninfo: str) -> list[Figure]:
    """Export and verify a 1,000,000-event log: directory, archive, one day; python3 alone."""
    events, build_s = build_log(conninfo)
    reader = ChainReader(conninfo, SCHEMA)
    provenance = Provenance("bench", "0" * 64, datetime.now(tz=UTC))
    app = Trading(dict(eventsourcing_env(conninfo, schema=SCHEMA)))
    seal = ledger_sealer(app, provenance.exported_at)
    figures = []
    with tempfile.TemporaryDirectory(prefix="ledger-bench-bundle-") as tmp:
        out = Path(tmp)
        for name, target in (("directory", out / "bundle"), (".tar.gz", out / "bundle.tar.gz")):
            outcome, seconds = _timed(
                lambda target=target: export_bundle(
                    reader, BundleSelection(), target, provenance, seal
                )
            )
            count = outcome.manifest["events"]["count"]  # type: ignore[attr-defined]
            figures.append(
                Figure(
                    f"`ledger audit export` of the whole log to a {name}",
                    seconds,
                    "s",
                    f"< {LIMIT_S:.0f} for 1,000,000 events",
                    seconds < LIMIT_S and count >= TARGET_EVENTS,
                    f"{count:,} events ({events / seconds:,.0f} events/s), bundle "
                    f"{_size(target):,.0f} MiB; log built in {build_s:.0f} s",
                )
            )
        shutil.copy(out / "bundle" / "verify_bundle.py", out / "verify_bundle.py")
        for name, target in (("directory", out / "bundle"), (".tar.gz", out / "bundle.tar.gz")):
            done, seconds, peak = _verify_alone(target)
            figures.append(
                Figure(
                    f"bundle verified by its verify_bundle.py, python3 -I -S, {name}",
                    seconds,
                    "s",
                    f"< {LIMIT_S:.0f} for 1,000,000 events",
                    seconds < LIMIT_S and done.returncode == 0,
                    f"exit {done.returncode}; {events / seconds:,.0f} events/s; the verifier's "
                    f"peak RSS {peak:,.0f} MiB",
                )
            )
        day = START + timedelta(days=10)
        one_day = BundleSelection.of(day, day + timedelta(days=1))
        outcome, seconds = _timed(
            lambda: export_bundle(reader, one_day, out / "day.tar.gz", provenance, seal)
        )
        count = outcome.manifest["events"]["count"]  # type: ignore[attr-defined]
        figures.append(
            Figure(
                "`ledger audit export --from 2024-01-11 --to 2024-01-11` (one day) of the log",
                seconds,
                "s",
                f"< {LIMIT_S:.0f}",
                seconds < LIMIT_S,
                f"{count:,} events in full, every one of the {events:,} proven by its digest; "
                f"bundle {_size(out / 'day.tar.gz'):,.1f} MiB",
            )
        )
    app.close()
    return figures
