"""`ledger order ...`: place, accept, fill, cancel, reject and show orders."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Annotated
from uuid import UUID

import typer
from rich.table import Table

from api.cli.context import (
    ACTOR_OPTION,
    JSON_OPTION,
    console,
    make_cause,
    open_system,
    print_json,
)

if TYPE_CHECKING:
    from api.bootstrap import System

app = typer.Typer(
    help="Place and manage orders. Every change is an event; a refused command records nothing.",
    no_args_is_help=True,
)

OrderIdArg = Annotated[UUID, typer.Argument(help="The order id printed by `ledger order place`.")]


@app.command("place")
def place(
    ctx: typer.Context,
    strategy: Annotated[str, typer.Option(help="Strategy the order belongs to (needs capital).")],
    side: Annotated[str, typer.Option(help="bid (buy) or ask (sell).")],
    order_type: Annotated[str, typer.Option("--type", help="limit or market.")],
    market: Annotated[str, typer.Option(help="Upbit market code.")] = "KRW-BTC",
    price: Annotated[str | None, typer.Option(help="Limit price in KRW, on the tick grid.")] = None,
    volume: Annotated[
        str | None, typer.Option(help="BTC volume (limit orders, market asks), 8 decimals max.")
    ] = None,
    amount: Annotated[str | None, typer.Option(help="KRW to spend (market bids only).")] = None,
    reference_price: Annotated[
        str | None, typer.Option(help="Last close in KRW: values a market ask (5,000 KRW min).")
    ] = None,
    client_order_id: Annotated[
        str | None, typer.Option(help="Idempotency key; the order id derives from it.")
    ] = None,
    actor: str | None = ACTOR_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Place an order: limit (price + volume), market bid (amount) or market ask (volume).

    Examples (a limit bid, a market bid for 10,000 KRW, a market ask valued at 51M KRW):

      ledger order place --strategy manual --side bid --type limit --price 50000000 --volume 0.001

      ledger order place --strategy manual --side bid --type market --amount 10000

      ledger order place --strategy manual --side ask --type market --volume 0.001
      --reference-price 51000000
    """
    from commands.messages import PlaceOrder

    with open_system(ctx) as system:
        order_id = system.trading.place_operator_order(
            PlaceOrder(
                client_order_id=client_order_id or f"cli-{uuid.uuid4()}",
                strategy_id=strategy,
                market=market,
                side=side,
                order_type=order_type,
                cause=make_cause(actor),
                price_krw=price,
                volume_btc=volume,
                amount_krw=amount,
                reference_price_krw=reference_price,
            )
        )
        _show(system, order_id, as_json, title="order placed")


@app.command("accept")
def accept(
    ctx: typer.Context,
    order_id: OrderIdArg,
    exchange_order_id: Annotated[str, typer.Option(help="The exchange's order uuid.")],
    actor: str | None = ACTOR_OPTION,
) -> None:
    """Record that the exchange acknowledged the order (NEW -> OPEN)."""
    from commands.messages import AcceptOrder

    with open_system(ctx) as system:
        system.trading.accept_order(AcceptOrder(order_id, exchange_order_id, make_cause(actor)))
        _show(system, order_id, False, title="order accepted")


@app.command("fill")
def fill(
    ctx: typer.Context,
    order_id: OrderIdArg,
    trade_id: Annotated[str, typer.Option(help="Exchange trade id; a repeat is ignored.")],
    price: Annotated[str, typer.Option(help="Fill price in KRW.")],
    volume: Annotated[str, typer.Option(help="Filled BTC quantity.")],
    fee: Annotated[str, typer.Option(help="Fee paid in KRW.")] = "0",
    actor: str | None = ACTOR_OPTION,
) -> None:
    """Record a fill (OPEN/PARTIAL -> PARTIAL or FILLED), with its position and cash."""
    from commands.messages import RecordFill

    with open_system(ctx) as system:
        is_new = system.trading.record_fill(
            RecordFill(order_id, trade_id, price, volume, fee, make_cause(actor))
        )
        title = "fill recorded" if is_new else f"trade {trade_id} was already recorded: unchanged"
        _show(system, order_id, False, title=title)


@app.command("cancel")
def cancel(
    ctx: typer.Context,
    order_id: OrderIdArg,
    reason: Annotated[str, typer.Option(help="Why the order is cancelled.")],
    actor: str | None = ACTOR_OPTION,
) -> None:
    """Cancel the unfilled remainder (OPEN/PARTIAL -> CANCELLED); fills stay."""
    from commands.messages import CancelOrder

    with open_system(ctx) as system:
        system.trading.cancel_order(CancelOrder(order_id, reason, make_cause(actor)))
        _show(system, order_id, False, title="order cancelled")


@app.command("reject")
def reject(
    ctx: typer.Context,
    order_id: OrderIdArg,
    reason: Annotated[str, typer.Option(help="Why the order was refused.")],
    by: Annotated[str, typer.Option(help="risk, exchange or submission.")] = "exchange",
    actor: str | None = ACTOR_OPTION,
) -> None:
    """Record that the order was refused (NEW -> FAILED) and release its reservation."""
    from commands.messages import RejectOrder

    with open_system(ctx) as system:
        system.trading.reject_order(RejectOrder(order_id, reason, by, make_cause(actor)))
        _show(system, order_id, False, title="order rejected")


@app.command("show")
def show(ctx: typer.Context, order_id: OrderIdArg, as_json: bool = JSON_OPTION) -> None:
    """Show an order's state from the event log."""
    with open_system(ctx) as system:
        _show(system, order_id, as_json, title="order")


def _show(system: System, order_id: UUID, as_json: bool, *, title: str) -> None:
    view = system.trading.get_order(order_id).describe()
    if as_json:
        print_json(view)
        return
    table = Table(title=title, show_header=False, title_justify="left")
    for key, value in view.items():
        table.add_row(key, "" if value is None else str(value))
    console.print(table)
