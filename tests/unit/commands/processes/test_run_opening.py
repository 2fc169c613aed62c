"""A run's opening: the account's books and risk record as they stood where the run opened."""

from __future__ import annotations

from decimal import Decimal

from commands.processes.run_opening import opening_books, opening_risk
from commands.trading import Trading
from domain.risk.limits import Limits
from domain.risk.trading_state import TradingState
from tests.builders import (
    CAPITAL,
    POPO_ENV,
    STRATEGY,
    allocate_capital,
    change_trading_state,
    set_risk_limits,
)


def test_the_books_and_risk_record_at_an_opening_leave_out_every_later_change() -> None:
    # Given an account funded and limited, then a position in its log (a run opens there)
    log = Trading(POPO_ENV)
    try:
        log.handle(allocate_capital())
        log.handle(set_risk_limits(max_order_krw="2000000"))
        opened_at = log.recorder.max_notification_id()
        assert opened_at is not None
        # When an operator changes the books and the risk record after the opening
        log.handle(allocate_capital("5000000", minute=1))
        log.handle(set_risk_limits(max_order_krw="1000000", minute=1))
        log.handle(change_trading_state("HALTED", minute=2))

        # Then the opening's books and risk record are as they were at the opening
        assert opening_books(log, [STRATEGY], "KRW-BTC", opened_at) == {
            STRATEGY: (Decimal(CAPITAL), Decimal(0)),
        }
        limits, state = opening_risk(log, opened_at)
        assert limits == Limits(max_order_krw=Decimal(2_000_000))
        assert state is TradingState.ACTIVE
        # And as of now they hold every change
        now = log.recorder.max_notification_id()
        assert now is not None
        assert opening_books(log, [STRATEGY], "KRW-BTC", now)[STRATEGY][0] == Decimal(
            CAPITAL
        ) + Decimal(5_000_000)
        assert opening_risk(log, now) == (
            Limits(max_order_krw=Decimal(1_000_000)),
            TradingState.HALTED,
        )
    finally:
        log.close()


def test_an_account_with_no_risk_record_at_the_opening_has_no_limits_and_trades() -> None:
    log = Trading(POPO_ENV)
    try:
        log.handle(allocate_capital())
        assert opening_risk(log, 1) == (Limits(), TradingState.ACTIVE)
    finally:
        log.close()
