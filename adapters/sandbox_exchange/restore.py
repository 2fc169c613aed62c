"""Restoring the sandbox's account from the order requests it once served (POST /sandbox/restore).

A sandbox keeps nothing across a restart. Its account is a function of its starting funds and
the order requests it served, each at its market time: matching is lazy and deterministic, and
order and trade ids are uuid5 of their cause. Serving the same requests again at the same times
therefore gives the same orders (same uuids), trades and balances. `ledger run --exchange
sandbox` does this when it resumes a run on a sandbox it has just started
(`adapters/trading/sandbox_restore.py` reads the requests from the run's log), then holds the
clock where the run stopped.

Body: `{"access_key": KEY, "balances"?: {CURRENCY: AMOUNT}, "requests": [{"at": ISO, "place":
{Upbit's order fields, with identifier}} | {"at": ISO, "cancel": IDENTIFIER}, ...], "clock":
ISO}`, requests in time order; `balances` first sets the account's free amounts (what the run's
strategies held when it opened).
A cancel of an order that has ended by its time is skipped (the run found it ended and sent
none). Refused, with nothing served, on an account that has orders already, on requests out of
time order or after `clock`; a place the exchange refuses names the request and stops there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from adapters.sandbox_exchange.paper_exchange import Balance, OrderRefusedError, PaperExchange


class RestoreRefusedError(ValueError):
    """A restore request is malformed, out of order, or the account is in use already."""


@dataclass(frozen=True)
class RestoreOutcome:
    """What a restore served: orders placed, cancels sent and cancels skipped (ended by then)."""

    placed: int
    cancelled: int
    skipped: int


def restore_account(
    exchange: PaperExchange, body: Any, keys: Mapping[str, str]
) -> tuple[RestoreOutcome, datetime]:
    """Serve the body's requests on a fresh account; return the outcome and where to hold.

    Raises:
        RestoreRefusedError: see the module; the message names the request and the rule.
    """
    if not isinstance(body, dict) or not isinstance(body.get("requests"), list):
        raise RestoreRefusedError('body must be {"access_key", "requests": [...], "clock"}')
    access_key = body.get("access_key")
    if access_key not in keys:
        raise RestoreRefusedError(f"access_key {access_key!r} is not a key of this sandbox")
    clock = _instant(body.get("clock"), "clock")
    requests: list[Any] = body["requests"]
    times = [_instant(r.get("at") if isinstance(r, dict) else None, "at") for r in requests]
    for n, (earlier, later) in enumerate(zip(times, times[1:], strict=False), 2):
        if later < earlier:
            raise RestoreRefusedError(
                f"request {n} at {later.isoformat()} is before request {n - 1}"
            )
    if times and times[-1] > clock:
        raise RestoreRefusedError(f"request at {times[-1].isoformat()} is after clock {clock}")
    if exchange.orders:
        raise RestoreRefusedError(
            f"the account has {len(exchange.orders)} orders already: a restore needs a fresh one"
        )
    funds = _balances(body.get("balances") or {}, exchange)
    for currency, amount in funds.items():
        exchange.balances[currency] = Balance(free=amount)
    placed = cancelled = skipped = 0
    for n, (request, at) in enumerate(zip(requests, times, strict=True), 1):
        try:
            if isinstance(request.get("place"), dict):
                exchange.place(request["place"], at, str(access_key))
                placed += 1
            elif isinstance(request.get("cancel"), str):
                uuid = exchange.uuid_of(request["cancel"])
                if uuid is not None and exchange.find(at, uuid=uuid, identifier=None).is_open:
                    exchange.cancel(at, uuid=uuid, identifier=None)
                    cancelled += 1
                else:
                    skipped += 1
            else:
                raise RestoreRefusedError(f"request {n} is neither a place nor a cancel")
        except OrderRefusedError as refused:
            raise RestoreRefusedError(
                f"request {n} at {at.isoformat()} was refused: {refused.name}: {refused.message}"
            ) from None
    return RestoreOutcome(placed, cancelled, skipped), clock


def _balances(value: Any, exchange: PaperExchange) -> dict[str, Decimal]:
    if not isinstance(value, dict):
        raise RestoreRefusedError(f"balances {value!r} must map currencies to amounts")
    funds: dict[str, Decimal] = {}
    for currency, text in value.items():
        if currency not in exchange.balances:
            known = ", ".join(exchange.balances)
            raise RestoreRefusedError(f"balance currency {currency!r} is not one of {known}")
        try:
            amount = Decimal(str(text))
        except InvalidOperation:
            amount = Decimal("NaN")
        if not amount.is_finite() or amount < 0:
            raise RestoreRefusedError(f"balance {currency} {text!r} is not an amount >= 0")
        funds[currency] = amount
    return funds


def _instant(value: Any, name: str) -> datetime:
    try:
        at = datetime.fromisoformat(str(value))
    except ValueError:
        at = None
    if at is None or at.tzinfo is None:
        raise RestoreRefusedError(f"{name} {value!r} is not an ISO 8601 time with a zone")
    return at.astimezone(UTC)
