"""The use cases are plain handler functions registered in one dispatch table."""

from __future__ import annotations

import ast
import dataclasses
import inspect
from pathlib import Path

import pytest

import commands.messages as messages
from commands.handlers import COMMAND_HANDLERS, UnknownCommandError, handle
from commands.messages import IngestCandles
from commands.trading import Trading
from tests.builders import accept_order, allocate_capital, cancel_order, place_limit_bid

HANDLERS = Path(__file__).resolve().parents[3] / "commands" / "handlers"


def memory() -> Trading:
    return Trading({"PERSISTENCE_MODULE": "eventsourcing.popo"})


def test_every_command_but_the_bulk_ingest_has_one_handler() -> None:
    commands = {
        kind
        for _, kind in inspect.getmembers(messages, inspect.isclass)
        if dataclasses.is_dataclass(kind) and kind.__module__ == messages.__name__
    }
    assert set(COMMAND_HANDLERS) == commands - {IngestCandles}


def test_handle_runs_the_commands_handler_on_the_ledger() -> None:
    ledger = memory()
    handle(ledger, allocate_capital("1000000"))
    order_id = ledger.handle(place_limit_bid("bid-1"))
    handle(ledger, accept_order(order_id))  # type: ignore[arg-type]
    handle(ledger, cancel_order(order_id))  # type: ignore[arg-type]

    assert ledger.get_order(order_id).status.value == "CANCELLED"  # type: ignore[arg-type]
    portfolio = ledger.get_portfolio()
    assert portfolio is not None and portfolio.book("alpha").reserved_krw == 0


def test_handle_refuses_what_is_not_a_command_naming_it() -> None:
    with pytest.raises(UnknownCommandError, match="str is not a command; one of: AcceptOrder"):
        handle(memory(), "place an order")


def test_handlers_are_plain_functions_with_no_class_but_results() -> None:
    for path in HANDLERS.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                # A result or an error type is a class; a use case never is.
                assert node.name.endswith(("Report", "Placement", "Error")), (path, node.name)
