"""Identifiers a replay must reproduce: uuid5 of their cause over one fixed namespace.

Never uuid4 in the domain or the write side (architecture "Events"; style S3.8).
"""

from __future__ import annotations

from uuid import NAMESPACE_URL, UUID, uuid5

LEDGER_NAMESPACE = uuid5(NAMESPACE_URL, "urn:upbit-ledger")


def derive_id(kind: str, *cause: str) -> UUID:
    """Return the uuid5 of `kind` and the parts of its cause, e.g. ("order", client_order_id)."""
    return uuid5(LEDGER_NAMESPACE, ":".join((kind, *cause)))


def order_id(client_order_id: str) -> UUID:
    """Return the order id derived from the client order id that caused it."""
    return derive_id("order", client_order_id)


def position_id(account: str, strategy_id: str, market: str) -> UUID:
    """Return the id of the position of one strategy of an account in one market."""
    return derive_id("position", account, strategy_id, market)


def portfolio_id(account: str) -> UUID:
    """Return the id of the cash ledger of one account."""
    return derive_id("portfolio", account)


def risk_limits_id(account: str) -> UUID:
    """Return the id of the risk limits of one account."""
    return derive_id("risk-limits", account)
