"""`ledger capital ...`: allocate KRW capital to strategies and show the cash ledger."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from api.cli.context import (
    ACTOR_OPTION,
    JSON_OPTION,
    console,
    krw,
    make_cause,
    open_system,
    print_json,
)

if TYPE_CHECKING:
    from commands.trading import Trading

app = typer.Typer(help="The cash ledger: capital per strategy.", no_args_is_help=True)


@app.command("allocate")
def allocate(
    ctx: typer.Context,
    strategy: Annotated[str, typer.Option(help="Strategy to give capital to.")],
    amount: Annotated[str, typer.Option(help="KRW to allocate, > 0.")],
    actor: str | None = ACTOR_OPTION,
) -> None:
    """Allocate KRW capital to a strategy."""
    from commands.messages import AllocateCapital

    with open_system(ctx) as system:
        system.trading.allocate_capital(AllocateCapital(strategy, amount, make_cause(actor)))
        console.print(f"allocated {amount} KRW to strategy {strategy}")
        _print_books(system.trading, as_json=False)


@app.command("show")
def show(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """Show every strategy's capital, cash, reservations, realised P&L and fees."""
    with open_system(ctx) as system:
        _print_books(system.trading, as_json=as_json)


def _print_books(trading: Trading, *, as_json: bool) -> None:
    portfolio = trading.get_portfolio()
    books = portfolio.books() if portfolio is not None else []
    rows = [
        {
            "strategy_id": b.strategy_id,
            "allocated_krw": b.allocated_krw,
            "cash_krw": b.cash_krw,
            "reserved_krw": b.reserved_krw,
            "available_krw": b.available_krw,
            "realised_pnl_krw": b.realised_pnl_krw,
            "fees_krw": b.fees_krw,
        }
        for b in books
    ]
    if as_json:
        print_json(rows)
        return
    table = Table(title=f"cash ledger of account {trading.account}", title_justify="left")
    for column in ("strategy", "allocated", "cash", "reserved", "available", "realised", "fees"):
        table.add_column(column, justify="left" if column == "strategy" else "right")
    for row in rows:
        table.add_row(*(krw(v) if not isinstance(v, str) else v for v in row.values()))
    console.print(table if rows else "no capital allocated yet")
