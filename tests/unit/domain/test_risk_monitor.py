"""The risk monitor's rules on the marked book, and the breach events with their actions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from domain.events import Cause
from domain.risk.breach import BreachAction, LimitCode
from domain.risk.limits import Limits, RiskLimits
from domain.risk.monitor import EquityWatch, assess
from domain.risk.trading_state import TradingState

DAY = datetime(2026, 3, 2, tzinfo=UTC)  # 09:00 KST: a session opens
D = Decimal


def at(minutes: int) -> datetime:
    return DAY + timedelta(minutes=minutes)


def cause(minutes: int) -> Cause:
    return Cause(at(minutes + 1), "risk-monitor", f"candle:{minutes}", f"candle:{minutes}")


def test_a_daily_loss_at_the_limit_halts_on_the_crossing_candle() -> None:
    # Given a day that started at 10,000,000 KRW of equity and a daily loss limit of 500,000
    limits = Limits(daily_loss_krw=D(500000))
    watch = EquityWatch()
    watch.mark(at(-1), D(10000000), {}, None)  # the previous session's last close
    # When equity falls to 9,600,000 and then 9,500,000
    first = watch.mark(at(0), D(9600000), {}, None)
    second = watch.mark(at(1), D(9500000), {}, None)
    # Then the first close is within the limit and the second crosses it: HALT
    assert assess(limits, TradingState.ACTIVE, first) == []
    [breach] = assess(limits, TradingState.ACTIVE, second)
    assert (breach.limit, breach.action) == (LimitCode.DAILY_LOSS, BreachAction.HALT)
    assert (breach.measured, breach.threshold) == (D(500000), D(500000))
    assert breach.candle_open_time == at(1)


def test_the_day_start_is_the_previous_sessions_last_close() -> None:
    watch = EquityWatch()
    watch.mark(DAY - timedelta(minutes=2), D(100), {}, None)
    watch.mark(DAY - timedelta(minutes=1), D(90), {}, None)  # the last close of the old session
    mark = watch.mark(DAY, D(80), {}, None)
    assert mark.day_start_equity_krw == D(90)
    assert mark.trading_day.isoformat() == "2026-03-02"


def test_a_drawdown_at_the_limit_from_the_peak_reduces_while_active() -> None:
    limits = Limits(max_drawdown=D("0.2"))
    watch = EquityWatch()
    watch.mark(at(0), D(100), {}, None)
    watch.mark(at(1), D(125), {}, None)  # the peak
    mark = watch.mark(at(2), D(100), {}, None)  # 20 % below it
    [breach] = assess(limits, TradingState.ACTIVE, mark)
    assert (breach.limit, breach.action, breach.measured) == (
        LimitCode.DRAWDOWN,
        BreachAction.REDUCE,
        D("0.2"),
    )
    # While REDUCING the drawdown is not found again; while HALTED nothing is assessed
    assert assess(limits, TradingState.REDUCING, mark) == []
    assert assess(Limits(daily_loss_krw=D(1)), TradingState.HALTED, mark) == []


def test_an_exposure_breach_is_found_once_when_crossed_and_again_after_it_fell_back() -> None:
    limits = Limits(max_exposure_krw=D(1000))
    watch = EquityWatch()
    marks = [
        watch.mark(at(n), D(10000), {"grid": D(value)}, limits.max_exposure_krw)
        for n, value in enumerate((900, 1100, 1200, 800, 1001))
    ]
    found = [assess(limits, TradingState.ACTIVE, m) for m in marks]
    assert [len(f) for f in found] == [0, 1, 0, 0, 1]
    breach = found[1][0]
    assert (breach.limit, breach.strategy_id, breach.action) == (
        LimitCode.EXPOSURE,
        "grid",
        BreachAction.BLOCK_BIDS,
    )


def test_a_breach_is_recorded_before_the_state_change_its_action_implies() -> None:
    risk = RiskLimits.create(account="main", cause=cause(0))
    watch = EquityWatch()
    watch.mark(at(0), D(100), {}, None)
    mark = watch.mark(at(1), D(70), {}, None)
    limits = Limits(daily_loss_krw=D(20), max_drawdown=D("0.25"))
    breaches = assess(limits, TradingState.ACTIVE, mark)
    assert [b.limit for b in breaches] == [LimitCode.DAILY_LOSS, LimitCode.DRAWDOWN]
    for breach in breaches:
        risk.record_breach(breach, cause(1))
    events = [type(e).__name__ for e in risk.collect_events()]
    # Then: created, the daily-loss breach and the halt, then the drawdown breach (no reduce:
    # a HALTED account is not eased to REDUCING)
    assert events == ["Created", "LimitBreached", "TradingHalted", "LimitBreached"]
    assert risk.state is TradingState.HALTED
    assert "daily_loss 30 reached the limit 20" in risk.state_reason


def test_an_exposure_breach_changes_no_state() -> None:
    risk = RiskLimits.create(account="main", cause=cause(0))
    watch = EquityWatch()
    mark = watch.mark(at(0), D(100), {"turtle": D(60)}, D(50))
    [breach] = assess(Limits(max_exposure_krw=D(50)), TradingState.ACTIVE, mark)
    risk.record_breach(breach, cause(0))
    assert risk.state is TradingState.ACTIVE
    assert [type(e).__name__ for e in risk.collect_events()] == ["Created", "LimitBreached"]
