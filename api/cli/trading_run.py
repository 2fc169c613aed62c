"""Open a trading run, or resume the one already in the log, from `ledger run`'s options."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    # Imported where used: `ledger run` refuses bad options (and `ledger status` reads the
    # status files) without loading the exchange's app, the trading service or the domain.
    from adapters.trading.service import TradingStatus
    from adapters.upbit.auth import UpbitCredentials
    from api.bootstrap import System
    from api.settings import Settings
    from commands.trading import Trading
    from domain.risk.limits import Limits
    from domain.strategies.run import StrategyRun

SANDBOX_ACCESS_KEY = "sandbox-access-key"
STATUS_FILE = "trading-status.{env}.json"
"""Where the trading service of an environment writes its status, in the data dir."""
PIPELINE_STATUS_FILE = "pipeline-status.{env}.json"
"""Where `ledger run`'s CQRS pipeline of an environment writes its report, in the data dir."""


class TradingRunInputError(Exception):
    """`ledger run`'s options or configuration cannot make a trading run (exit code 2)."""


def run_inputs(
    settings: Settings, strategies: str | None, params: list[str], capital: str | None
) -> tuple[dict[str, dict[str, str]], Decimal]:
    """Return every strategy's resolved parameters and the capital per strategy.

    Raises:
        InvalidStrategyParameterError: an unknown strategy, parameter or value.
        TradingRunInputError: the capital is not a positive amount.
    """
    from domain.strategies.catalog import build_strategies, parse_param, resolved_parameters

    names = (
        [s.strip() for s in strategies.split(",")]
        if strategies
        else list(settings.trading.strategies)
    )
    overrides: dict[str, dict[str, str]] = {k: dict(v) for k, v in settings.trading.params.items()}
    for text in params:
        strategy, name, value = parse_param(text)
        overrides.setdefault(strategy, {})[name] = value
    built = build_strategies(names, {k: v for k, v in overrides.items() if k in names})
    try:
        amount = Decimal(capital) if capital is not None else settings.trading.capital_krw
    except ArithmeticError:
        raise TradingRunInputError(f"--capital {capital!r} is not a number of KRW") from None
    if not amount.is_finite() or amount <= 0:
        raise TradingRunInputError(f"--capital {capital!r} must be a positive amount of KRW")
    return resolved_parameters(built), amount


def _set_limits(trading: Trading, run_id: str, limits: Limits, at: datetime | None) -> None:
    from commands.messages import SetRiskLimits
    from domain.events import Cause

    record = trading.get_risk_limits()
    if record is not None and record.limits == limits:
        return
    # A new run's limits are set at its first candle's open (in market time, as its opening);
    # a change to a running run is an operator's, at the wall clock's now.
    when = at or datetime.now(tz=UTC)
    cause = Cause(when, "cli:ledger-run", f"limits:{run_id}:{when.isoformat()}", run_id)
    reason = f"the limits given to ledger run {run_id}"
    trading.set_risk_limits(SetRiskLimits(reason=reason, cause=cause, **limits.as_fields()))


def open_or_resume(
    system: System,
    *,
    run_id: str,
    mode: str,
    exchange: str,
    strategies: dict[str, dict[str, str]],
    capital_krw: Decimal,
    first_candle_at: datetime,
    limits: Limits | None = None,
) -> tuple[StrategyRun.Opened, bool]:
    """Return the run's opening event, opening the run if the log has none; and whether it did.

    `limits`, when given and not already the account's, are set on the account's risk record
    first: before the run opens (they are the run's from its first candle), or, for a run in
    the log, as an operator's change that reaches it at the next candle recorded.

    Raises:
        TradingRunInputError: the log's run of that id was opened with other inputs.
    """
    from commands.messages import OpenRun
    from domain.events import Cause

    trading = system.trading
    settings = system.settings.trading
    wanted: dict[str, Any] = {
        "mode": mode,
        "exchange": exchange,
        "market": settings.markets[0],
        "strategies": strategies,
        "capital_krw": capital_krw,
        "fee_rate": settings.fee_rate,
        "slippage_bps": settings.slippage_bps,
        "max_participation": settings.max_participation,
    }
    opened = trading.get_run_opened(run_id)
    if opened is not None:
        differences = [
            f"{key} was {getattr(opened, key)!r}, now {value!r}"
            for key, value in wanted.items()
            if getattr(opened, key) != value
        ]
        if differences:
            raise TradingRunInputError(
                f"run {run_id!r} is in the log with other inputs ({'; '.join(differences)}); "
                "resume it with the same configuration, or open another with --run-id NEW"
            )
        if limits is not None:
            _set_limits(trading, run_id, limits, None)
        return opened, False
    if trading.get_run(run_id) is not None:
        raise TradingRunInputError(f"run {run_id!r} is a backtest run; choose another --run-id")
    if limits is not None:
        _set_limits(trading, run_id, limits, first_candle_at)
    # The run opens, funded, at its first candle's open: in market time, which is the wall's
    # for Upbit and the replayed file's for the sandbox (so its equity curve starts funded).
    cause = Cause(first_candle_at, "cli:ledger-run", f"open-run:{run_id}", run_id)
    trading.open_run(OpenRun(run_id=run_id, first_candle_at=first_candle_at, cause=cause, **wanted))
    opened = trading.get_run_opened(run_id)
    assert opened is not None
    return opened, True


def exchange_credentials(settings: Settings, exchange: str) -> UpbitCredentials | None:
    """Return the keys the exchange's private endpoints need (None for paper runs).

    Raises:
        TradingRunInputError: live trading without real keys.
    """
    from pydantic import SecretStr

    from adapters.sandbox_exchange.app import SANDBOX_KEYS
    from adapters.upbit.auth import UpbitCredentials
    from api.settings import PLACEHOLDER_SECRETS

    if exchange == "paper":
        return None
    if exchange == "sandbox":
        secret = os.environ.get("LEDGER_SANDBOX_SECRET_KEY") or SANDBOX_KEYS[SANDBOX_ACCESS_KEY]
        return UpbitCredentials(SANDBOX_ACCESS_KEY, SecretStr(secret))
    access, secret = settings.upbit.access_key, settings.upbit.secret_key
    for name, value in (("access", access), ("secret", secret)):
        text = value.get_secret_value() if value is not None else ""
        if text.lower() in PLACEHOLDER_SECRETS or len(text) < 16 or "sandbox" in text.lower():
            raise TradingRunInputError(
                f"live trading needs a real Upbit {name} key in LEDGER_UPBIT__{name.upper()}_KEY "
                "(environment or secrets file); none, a placeholder or a sandbox key was found"
            )
    assert access is not None and secret is not None
    return UpbitCredentials(access.get_secret_value(), secret)


def status_path(data_dir: Path, env: str) -> Path:
    """Return the status file of an environment's trading service (envs share a data dir)."""
    return data_dir / STATUS_FILE.format(env=env)


def write_status(path: Path, status: TradingStatus) -> None:
    """Write the trading service's status where `ledger status` reads it (atomically)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in asdict(status).items()}
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(body, indent=1))
    temporary.replace(path)


def read_status(path: Path) -> dict[str, Any] | None:
    """Return the last status the trading service (or the CQRS pipeline) wrote, or None."""
    if not path.exists():
        return None
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def pipeline_status_path(data_dir: Path, env: str) -> Path:
    """Return the CQRS pipeline report file of an environment (envs share a data dir)."""
    return data_dir / PIPELINE_STATUS_FILE.format(env=env)


def write_pipeline_status(path: Path, report: dict[str, Any]) -> None:
    """Write the CQRS pipeline's report (`CqrsPipeline.report`) where `ledger status` reads it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(report, indent=1))
    temporary.replace(path)
