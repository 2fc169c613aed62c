"""`ledger risk ...`: set limits, halt, reduce and resume trading, show the risk state."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from api.cli.context import (
    ACTOR_OPTION,
    JSON_OPTION,
    console,
    make_cause,
    open_system,
    print_json,
)

if TYPE_CHECKING:
    from commands.trading import Trading

app = typer.Typer(
    help="Risk limits and the trading state (ACTIVE / REDUCING / HALTED). Every change needs "
    "a reason and is recorded with its actor.",
    no_args_is_help=True,
)

ReasonOption = Annotated[str, typer.Option(help="Why (recorded in the event log).")]


@app.command("set")
def set_limits(
    ctx: typer.Context,
    reason: ReasonOption,
    max_order_krw: Annotated[str | None, typer.Option(help="Per-order notional limit.")] = None,
    max_exposure_krw: Annotated[
        str | None, typer.Option(help="Per-strategy exposure limit (cost held + open bids).")
    ] = None,
    daily_loss_krw: Annotated[
        str | None, typer.Option(help="Realised loss per trading day (09:00 KST to 09:00 KST).")
    ] = None,
    max_drawdown: Annotated[
        str | None, typer.Option(help="Drawdown from peak equity, a fraction (0.2 = 20 %).")
    ] = None,
    max_orders_per_minute: Annotated[
        str | None,
        typer.Option(help="Orders the account may place in the trailing 60 s (a whole number)."),
    ] = None,
    actor: str | None = ACTOR_OPTION,
) -> None:
    """Set all limits at once; a limit left out is removed."""
    from api.cli.risk_options import parse_limits
    from commands.messages import SetRiskLimits
    from domain.errors import InvalidRiskLimitError

    # Refused before the system opens: a bad value names its flag, and nothing is recorded.
    limits = parse_limits(
        InvalidRiskLimitError,
        max_order_krw=max_order_krw,
        max_exposure_krw=max_exposure_krw,
        daily_loss_krw=daily_loss_krw,
        max_drawdown=max_drawdown,
        max_orders_per_minute=max_orders_per_minute,
    )
    with open_system(ctx) as system:
        system.trading.set_risk_limits(
            SetRiskLimits(reason=reason, cause=make_cause(actor), **limits.as_fields())
        )
        _print_risk(system.trading, as_json=False)


def _change(ctx: typer.Context, to_state: str, reason: str, actor: str | None) -> None:
    from commands.messages import ChangeTradingState

    with open_system(ctx) as system:
        system.trading.change_trading_state(ChangeTradingState(to_state, reason, make_cause(actor)))
        _print_risk(system.trading, as_json=False)


@app.command("halt")
def halt(ctx: typer.Context, reason: ReasonOption, actor: str | None = ACTOR_OPTION) -> None:
    """Halt trading: no order may be placed until resumed."""
    _change(ctx, "HALTED", reason, actor)


@app.command("reduce")
def reduce(ctx: typer.Context, reason: ReasonOption, actor: str | None = ACTOR_OPTION) -> None:
    """Allow only orders that reduce exposure (asks)."""
    _change(ctx, "REDUCING", reason, actor)


@app.command("resume")
def resume(ctx: typer.Context, reason: ReasonOption, actor: str | None = ACTOR_OPTION) -> None:
    """Resume trading (ACTIVE)."""
    _change(ctx, "ACTIVE", reason, actor)


@app.command("show")
def show(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """Show the limits and the trading state."""
    with open_system(ctx) as system:
        _print_risk(system.trading, as_json=as_json)


def _print_risk(trading: Trading, *, as_json: bool) -> None:
    risk = trading.get_risk_limits()
    view = {
        "state": risk.state.value if risk else "ACTIVE",
        "state_reason": risk.state_reason if risk else "no risk record yet",
        **(risk.limits.as_fields() if risk else {}),
    }
    if as_json:
        print_json(view)
        return
    for key, value in view.items():
        console.print(f"{key:>21}: {'no limit' if value is None else value}")
