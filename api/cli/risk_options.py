"""The risk limit options that `ledger backtest` and `ledger run` share, and their parsing."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from domain.risk.limits import Limits

MaxOrderOption = Annotated[
    str | None, typer.Option(help="Per-order notional limit (KRW); off by default.")
]
MaxExposureOption = Annotated[
    str | None,
    typer.Option(
        help="Per-strategy exposure limit (KRW): bids are refused above it (cost held + open "
        "bids), and a strategy's BTC marked at a close above it is recorded as a breach."
    ),
]
DailyLossOption = Annotated[
    str | None,
    typer.Option(
        help="Daily loss limit (KRW) per trading day (09:00 to 09:00 KST): the marked equity "
        "falling this far below the day's start halts trading."
    ),
]
MaxDrawdownOption = Annotated[
    str | None,
    typer.Option(
        help="Drawdown from peak equity, a fraction (0.2 = 20 %): reaching it reduces "
        "(cancels, sells every position at market), then halts once flat."
    ),
]
MaxOrdersPerMinuteOption = Annotated[
    str | None,
    typer.Option(
        help="Submit-rate limit: orders the account may place in the trailing 60 seconds of "
        "domain time (a whole number; in a backtest a close's orders share its time, so it is "
        "a budget per close); a strategy's order over it is denied. Off by default."
    ),
]


def parse_limits(error: type[Exception], **given: str | None) -> Limits:
    """Return the limits; a bad value raises `error` naming its flag, the value and the rule."""
    from domain.errors import InvalidRiskLimitError
    from domain.risk.limits import Limits

    for name, value in given.items():
        try:
            Limits.parse(**{name: value})
        except InvalidRiskLimitError as refused:
            flag = "--" + name.replace("_", "-")
            raise error(f"{flag} {value!r} was refused: {refused}") from None
    return Limits.parse(**given)
