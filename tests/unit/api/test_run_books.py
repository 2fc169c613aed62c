"""`ledger run` says when a run opens on books it did not fund (api/cli/run_parts.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from api.bootstrap import System
from api.cli.run_parts import inherited_books
from api.settings import load_settings
from commands.messages import AllocateCapital
from domain.events import Cause
from tests.unit.commands.processes.runs import RUN_ID, new_log, open_run

FIRST = datetime(2023, 3, 9, tzinfo=UTC)


def test_a_run_opened_on_a_fresh_account_says_nothing_of_books() -> None:
    trading = new_log()
    open_run(trading, FIRST)
    opened = trading.get_run_opened(RUN_ID)
    assert opened is not None
    assert inherited_books(System(load_settings(), trading), opened) is None


def test_a_run_opened_on_books_left_by_others_names_them_and_their_cash() -> None:
    # Given an account whose grid strategy already holds 300,000 KRW
    trading = new_log()
    cause = Cause(FIRST, "operator:test", "allocate", "allocate")
    trading.allocate_capital(AllocateCapital("grid", Decimal(300_000), cause))

    # When a run of 10,000,000 KRW a strategy opens on it
    open_run(trading, FIRST)
    opened = trading.get_run_opened(RUN_ID)
    assert opened is not None
    said = inherited_books(System(load_settings(), trading), opened)

    # Then `ledger run` says the run trades on with that book, not with its capital
    assert said is not None
    assert "grid 300,000 KRW + 0 BTC" in said and "10,000,000 KRW each" in said
    assert "turtle" not in said
