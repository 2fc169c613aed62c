"""The pieces of `ledger run` around the system: the sandbox, the run's id, waits and reports."""

from __future__ import annotations

import signal
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import typer

from api.cli.context import console

if TYPE_CHECKING:
    from adapters.nats.pipeline import CqrsPipeline
    from adapters.sandbox_exchange.process import StartingSandbox
    from adapters.trading.service import TradingStatus
    from api.bootstrap import System
    from domain.strategies.run import StrategyRun


def first_candle_at(exchange: str, url: str | None, candles: SandboxCandles | None) -> datetime:
    """Return the run's first candle: the file's (a sandbox started on it), else the exchange's."""
    if candles is not None:  # the sandbox `ledger run` starts replays it from its first candle
        return candles.first
    if exchange == "sandbox":
        from adapters.sandbox_exchange.control import SandboxControl

        assert url is not None
        with SandboxControl(url) as control:
            return control.status().first_candle_at
    now = datetime.now(tz=UTC)
    return now.replace(second=0, microsecond=0)  # the minute forming now closes first


def default_run_id(exchange: str, account: str, first_candle_at: datetime) -> str:
    if exchange == "sandbox":
        return f"sandbox-{account}-{first_candle_at:%Y%m%dT%H%MZ}"
    return f"{'live' if exchange == 'upbit' else 'paper'}-{account}"


@dataclass(frozen=True)
class SandboxCandles:
    """The candle file a sandbox `ledger run` starts replays, checked before anything starts."""

    path: Path
    first: datetime
    is_non_krw_allowed: bool


def checked_sandbox_candles(path: Path, *, is_non_krw_allowed: bool) -> SandboxCandles:
    """Make the checks `ledger sandbox` makes of its candle file, before anything starts.

    Raises:
        CandleFileError: the file breaks a rule (exit 2, naming it and the flag that overrides).
    """
    from adapters.market_data.candle_quote import check_krw_quote
    from adapters.market_data.candles_csv import read_rows

    rows = read_rows(path)
    check_krw_quote(path, rows.prices[:, 3], "KRW-BTC", is_non_krw_allowed=is_non_krw_allowed)
    first = datetime.fromtimestamp(int(rows.minutes[0]) * 60, tz=UTC)
    return SandboxCandles(path, first, is_non_krw_allowed)


@contextmanager
def started_sandbox(
    candles: SandboxCandles, speed: float, krw: Decimal
) -> Iterator[StartingSandbox]:
    """Start `ledger sandbox --paced` on the file, from its first candle, without waiting.

    It comes up while the run starts its servers and opens its log (`sandbox_url` waits for
    it). The sandbox dies with this process, however it ends.
    """
    from adapters.sandbox_exchange.process import started_sandbox as start

    first = candles.first.isoformat()
    flags = ["--paced", "--speed", str(speed), "--start", first, "--krw", str(krw)]
    if candles.is_non_krw_allowed:
        flags.append("--allow-non-krw")
    with start(candles.path, *flags) as sandbox:
        yield sandbox


def sandbox_url(sandbox: StartingSandbox) -> str:
    """Wait until the sandbox `started_sandbox` started answers; return its URL.

    Raises:
        ServiceUnavailableError: it did not start (its last words are in the message).
    """
    from adapters.sandbox_exchange.process import SandboxStartError
    from api.bootstrap import ServiceUnavailableError

    try:
        return sandbox.ready()
    except SandboxStartError as error:
        raise ServiceUnavailableError(str(error)) from None


@contextmanager
def sandbox_process(
    candles: SandboxCandles,
    speed: float,
    krw: Decimal,
    on_started: Callable[[int], None] | None = None,
) -> Iterator[str]:
    """Start `ledger sandbox --paced` on the file, from its first candle; yield its URL.

    The sandbox dies with this process, however it ends; `on_started` is given its pid.
    """
    with started_sandbox(candles, speed, krw) as sandbox:
        if on_started is not None:
            on_started(sandbox.pid)
        yield sandbox_url(sandbox)


def restore_sandbox(system: System, opened: StrategyRun.Opened, url: str, *, is_new: bool) -> str:
    """Bring the sandbox `ledger run` just started to the state the run's log implies; say what.

    Funded with what the run's strategies held when it opened; for a run resumed, its past
    order requests served again and its clock held where the run stopped
    (`adapters/trading/sandbox_restore.py`).

    Raises:
        TradingRunInputError: the sandbox refused (it names why); nothing was reconciled, so
            the account's trading state is as it was.
    """
    from adapters.sandbox_exchange.control import SandboxControl, SandboxControlRefusedError
    from adapters.trading.sandbox_restore import opening_balances, restore_requests
    from api.cli.trading_run import SANDBOX_ACCESS_KEY, TradingRunInputError

    position = system.trading.run_opened_position(opened.run_id)
    assert position is not None  # the run is in the log
    balances = opening_balances(system.trading, opened, position)
    requests, held_at = restore_requests(system.trading, opened, position)
    if is_new:  # a new run trades from its first candle on
        requests, held_at = [], opened.first_candle_at
    try:
        with SandboxControl(url) as control:
            done = control.restore(SANDBOX_ACCESS_KEY, requests, held_at, balances)
    except SandboxControlRefusedError as refused:
        raise TradingRunInputError(
            f"run {opened.run_id!r} cannot resume on a new sandbox: {refused}; open another "
            "run with --run-id NEW, or trade on the sandbox that served it with --exchange-url"
        ) from None
    funded = ", ".join(f"{amount} {currency}" for currency, amount in balances.items())
    if is_new:
        return f"sandbox     funded with {funded} (what the run's strategies hold)"
    return (
        f"sandbox     restored from the run's log: funded with {funded}, "
        f"{done.get('placed')} orders placed and {done.get('cancelled')} cancelled again, "
        f"clock held at {held_at.isoformat()}"
    )


def inherited_books(system: System, opened: StrategyRun.Opened) -> str | None:
    """Say which of the run's strategies opened on books other than its capital, or None."""
    from commands.processes.run_opening import opening_books

    position = system.trading.run_opened_position(opened.run_id)
    assert position is not None  # the run is in the log
    books = opening_books(system.trading, list(opened.strategies), opened.market, position)
    other = [
        f"{name} {cash:,} KRW + {qty} BTC"
        for name, (cash, qty) in books.items()
        if cash != opened.capital_krw or qty != 0
    ]
    if not other:
        return None
    return (
        f"books       the account's strategies already held money when the run opened, and "
        f"it trades on with it (an earlier run's or an operator's), not {opened.capital_krw:,} "
        f"KRW each: {'; '.join(other)}. `ledger parity` backtests from these books."
    )


def wait_for_read_models(system: System, pipeline: CqrsPipeline, timeout_s: float = 120.0) -> None:
    """Wait until every read model applied the whole log (or stopped on an event).

    Raises:
        ServiceUnavailableError: the pipeline died, or the read models did not catch up.
    """
    import time

    from api.bootstrap import ServiceUnavailableError
    from api.cli.projections import _status_rows

    deadline = time.monotonic() + timeout_s
    rows: list[dict[str, object]] = []
    while time.monotonic() < deadline:
        if pipeline.error is not None:
            raise ServiceUnavailableError(
                f"the CQRS pipeline stopped ({type(pipeline.error).__name__}: "
                f"{pipeline.error}); the read models are behind the log: run `ledger run` "
                "again, or `ledger relay` and `ledger project`"
            )
        rows = _status_rows(system)
        if all(row["behind"] == 0 or row["parked"] for row in rows):
            return
        time.sleep(0.2)
    behind = ", ".join(f"{row['name']} {row['behind']}" for row in rows if row["behind"])
    raise ServiceUnavailableError(
        f"the read models did not catch up with the log within {timeout_s:.0f} s (events "
        f"behind: {behind}); see `ledger status` for the relay and projectors"
    )


def print_summary(
    system: System, status: TradingStatus, pipeline: CqrsPipeline | None = None
) -> None:
    from api.cli.status import pipeline_restarts

    restarts = f"; CQRS pipeline {pipeline_restarts(pipeline.report())}" if pipeline else ""
    console.print(
        f"run {status.run_id} {status.state}: {status.candles:,} candles processed, last "
        f"{status.last_candle_at.isoformat() if status.last_candle_at else '-'}; "
        f"{status.restarts} restarts; log position "
        f"{system.trading.recorder.max_notification_id() or 0}{restarts}"
    )


def offline_hint(exchange: str, market_url: str) -> list[str]:
    """Return the banner's line for a run on the live market: where, and how to run offline."""
    if exchange == "sandbox":
        return []
    return [
        f"market      live candles from {market_url}; without network (Upbit unreachable: the "
        "terminal and `ledger status` say so), trade offline on the sandbox: ledger run "
        "--exchange sandbox --candles FILE.csv.gz --until-end"
    ]


def end_cleanly_on_sigterm(stack: ExitStack) -> None:
    """Make SIGTERM (`ledger services down`, a service manager) unwind `stack` as Ctrl-C does.

    Python's default SIGTERM ends the process at once, skipping the clean-up that stops the
    sandbox child and the pipeline; SystemExit runs it. The old handler is back afterwards.
    """
    if threading.current_thread() is not threading.main_thread():
        return

    def end(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    stack.callback(signal.signal, signal.SIGTERM, signal.signal(signal.SIGTERM, end))


def notice(line: str) -> None:
    from api.cli.context import err_console

    err_console.print(f"{datetime.now(tz=UTC).isoformat(timespec='seconds')} {line}")


def require_free_port(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            from api.bootstrap import ServiceUnavailableError

            raise ServiceUnavailableError(
                f"API address {host}:{port} is not available ({error.strerror}); "
                "choose another with --port or LEDGER_API__PORT"
            ) from None


def checked_port(port: int | None) -> int | None:
    """Return a `--port` option's value when it is a port (1-65535), else refuse it naming it."""
    if port is not None and not 1 <= port <= 65535:
        raise typer.BadParameter(f"{port} is not a port: it must be from 1 to 65535")
    return port
