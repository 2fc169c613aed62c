"""Risk: the limits, the trading state ACTIVE/REDUCING/HALTED and every pre-trade rule."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain.errors import (
    DailyLossLimitReachedError,
    ExposureLimitError,
    InvalidRiskLimitError,
    MissingTextError,
    OrderNotionalLimitError,
    RiskError,
    SubmitRateLimitError,
    TradingHaltedError,
    TradingReducingError,
    TradingStateUnchangedError,
)
from domain.ids import risk_limits_id
from domain.risk.limits import Limits, RiskLimits
from domain.risk.rules import check_order
from domain.risk.trading_state import TradingState
from tests.builders import cause, created_risk_limits, risk_context

D = Decimal
ACTIVE, REDUCING, HALTED = TradingState.ACTIVE, TradingState.REDUCING, TradingState.HALTED
NO_LIMITS = Limits()


class TestLimits:
    def test_parse_limits_gives_decimals_and_none_for_no_limit(self) -> None:
        limits = Limits.parse(max_order_krw="1000000", max_drawdown="0.2")

        assert limits == Limits(max_order_krw=D("1000000"), max_drawdown=D("0.2"))
        assert limits.max_exposure_krw is None and limits.daily_loss_krw is None

    def test_parse_orders_per_minute_gives_a_whole_number(self) -> None:
        assert Limits.parse(max_orders_per_minute="12") == Limits(max_orders_per_minute=12)
        assert Limits.parse(max_orders_per_minute=12).max_orders_per_minute == 12
        assert Limits.parse(max_orders_per_minute=D("12")).max_orders_per_minute == 12

    @pytest.mark.parametrize(
        "value", ["0", "-3", -3, "2.5", 2.5, D("2.5"), "abc", "", True, 1_000_001, "١٢"]
    )
    def test_parse_orders_per_minute_not_a_whole_number_from_1_is_refused_naming_it(
        self, value: object
    ) -> None:
        rule = "max orders per minute .* must be a whole number of orders from 1 to 1,000,000"

        with pytest.raises(InvalidRiskLimitError, match=rule) as refused:
            Limits.parse(max_orders_per_minute=value)

        assert repr(value) in str(refused.value)

    @pytest.mark.parametrize(
        ("field", "value", "rule"),
        [
            ("max_order_krw", "0", "max order notional 0 KRW must be greater than 0"),
            ("max_exposure_krw", "-5", "max exposure -5 KRW must be greater than 0"),
            ("daily_loss_krw", 100000.0, "daily loss limit 100000.0 was given as a float"),
            ("max_drawdown", "1.5", "max drawdown 1.5 must be a fraction in \\(0, 1\\]"),
            ("max_drawdown", "0", "max drawdown 0 must be a fraction"),
        ],
    )
    def test_parse_out_of_range_limit_is_refused_naming_value_and_rule(
        self, field: str, value: object, rule: str
    ) -> None:
        with pytest.raises(InvalidRiskLimitError, match=rule):
            Limits.parse(**{field: value})


class TestRiskLimits:
    def test_create_risk_record_is_active_without_limits(self) -> None:
        risk = RiskLimits.create(account="main", cause=cause(0))

        (created,) = risk.collect_events()
        assert isinstance(created, RiskLimits.Created)
        assert risk.id == risk_limits_id("main")
        assert risk.state is ACTIVE
        assert risk.limits == NO_LIMITS

    def test_set_limits_records_every_value_and_the_reason(self) -> None:
        risk = created_risk_limits()

        risk.set_limits(Limits.parse(max_order_krw="1000000"), "weekly review", cause(1))

        (event,) = risk.collect_events()
        assert isinstance(event, RiskLimits.LimitsSet)
        assert event.max_order_krw == D("1000000")
        assert event.max_exposure_krw is None
        assert (event.reason, event.actor) == ("weekly review", "tester")
        assert risk.limits == Limits(max_order_krw=D("1000000"))

    def test_set_limits_without_reason_is_refused(self) -> None:
        risk = created_risk_limits()

        with pytest.raises(MissingTextError, match="reason"):
            risk.set_limits(NO_LIMITS, " ", cause(1))

        assert risk.collect_events() == []

    @pytest.mark.parametrize(
        ("to_state", "event_class"),
        [
            (HALTED, RiskLimits.TradingHalted),
            (REDUCING, RiskLimits.TradingReduced),
        ],
    )
    def test_change_state_from_active_records_the_change_with_from_state_and_reason(
        self, to_state: TradingState, event_class: type
    ) -> None:
        risk = created_risk_limits()

        risk.change_state(to_state, "drawdown 21 %", cause(1))

        (event,) = risk.collect_events()
        assert isinstance(event, event_class)
        assert (event.from_state, event.reason) == ("ACTIVE", "drawdown 21 %")
        assert risk.state is to_state
        assert risk.state_reason == "drawdown 21 %"

    def test_resume_after_halt_records_trading_resumed(self) -> None:
        risk = created_risk_limits()
        risk.change_state(HALTED, "exchange outage", cause(1))
        risk.collect_events()

        risk.change_state(ACTIVE, "exchange back", cause(2))

        (event,) = risk.collect_events()
        assert isinstance(event, RiskLimits.TradingResumed)
        assert event.from_state == "HALTED"
        assert risk.state is ACTIVE

    def test_change_to_the_current_state_is_refused_and_records_nothing(self) -> None:
        risk = created_risk_limits()
        risk.change_state(HALTED, "exchange outage", cause(1))
        risk.collect_events()

        with pytest.raises(TradingStateUnchangedError) as refused:
            risk.change_state(HALTED, "again", cause(2))

        assert "trading is already HALTED (since: exchange outage)" in str(refused.value)
        assert risk.collect_events() == []


class TestTradingStateRules:
    @pytest.mark.parametrize("side", ["bid", "ask"])
    def test_halted_refuses_every_order(self, side: str) -> None:
        with pytest.raises(TradingHaltedError, match="trading is HALTED"):
            check_order(HALTED, NO_LIMITS, risk_context(side))

    def test_reducing_refuses_bids(self) -> None:
        with pytest.raises(TradingReducingError, match="only asks .* a bid was refused"):
            check_order(REDUCING, NO_LIMITS, risk_context("bid"))

    def test_reducing_allows_asks(self) -> None:
        assert check_order(REDUCING, NO_LIMITS, risk_context("ask")) is None

    @pytest.mark.parametrize("side", ["bid", "ask"])
    def test_active_without_limits_allows_every_order(self, side: str) -> None:
        assert check_order(ACTIVE, NO_LIMITS, risk_context(side, notional_krw="999999999")) is None


class TestNotionalRule:
    LIMITS = Limits(max_order_krw=D("1000000"))

    @pytest.mark.parametrize("side", ["bid", "ask"])
    def test_order_above_the_per_order_notional_is_refused_naming_both(self, side: str) -> None:
        with pytest.raises(OrderNotionalLimitError) as refused:
            check_order(ACTIVE, self.LIMITS, risk_context(side, notional_krw="1000000.01"))

        assert "order notional 1,000,000.01 KRW is above the per-order limit 1,000,000 KRW" in (
            str(refused.value)
        )

    def test_order_at_the_per_order_notional_is_allowed(self) -> None:
        assert check_order(ACTIVE, self.LIMITS, risk_context(notional_krw="1000000")) is None


class TestExposureRule:
    LIMITS = Limits(max_exposure_krw=D("2000000"))

    def test_bid_taking_exposure_above_the_limit_is_refused_naming_the_parts(self) -> None:
        context = risk_context("bid", notional_krw="600000", exposure_krw="1500000")

        with pytest.raises(ExposureLimitError) as refused:
            check_order(ACTIVE, self.LIMITS, context)

        message = str(refused.value)
        assert "strategy alpha's exposure would be 2,100,000 KRW" in message
        assert "(1,500,000 held or reserved + 600,000 for this order)" in message
        assert "above the limit 2,000,000 KRW" in message

    def test_bid_taking_exposure_exactly_to_the_limit_is_allowed(self) -> None:
        context = risk_context("bid", notional_krw="500000", exposure_krw="1500000")

        assert check_order(ACTIVE, self.LIMITS, context) is None

    def test_ask_is_not_limited_by_exposure(self) -> None:
        context = risk_context("ask", notional_krw="600000", exposure_krw="5000000")

        assert check_order(ACTIVE, self.LIMITS, context) is None


class TestDailyLossRule:
    LIMITS = Limits(daily_loss_krw=D("100000"))

    @pytest.mark.parametrize("daily_net_pnl", ["-100000", "-150000"])
    def test_bid_after_loss_reached_the_limit_is_refused(self, daily_net_pnl: str) -> None:
        context = risk_context("bid", daily_net_pnl_krw=daily_net_pnl)

        with pytest.raises(DailyLossLimitReachedError) as refused:
            check_order(ACTIVE, self.LIMITS, context)

        message = str(refused.value)
        assert "trading day 2025-01-06" in message
        assert "at or above the daily loss limit 100,000 KRW" in message
        assert "no bids until the next session (09:00 KST)" in message

    def test_bid_with_loss_below_the_limit_is_allowed(self) -> None:
        context = risk_context("bid", daily_net_pnl_krw="-99999.99")

        assert check_order(ACTIVE, self.LIMITS, context) is None

    def test_ask_after_loss_reached_the_limit_is_allowed(self) -> None:
        context = risk_context("ask", daily_net_pnl_krw="-500000")

        assert check_order(ACTIVE, self.LIMITS, context) is None


class TestSubmitRateRule:
    LIMITS = Limits(max_orders_per_minute=3)

    @pytest.mark.parametrize("side", ["bid", "ask"])
    def test_order_below_the_rate_is_allowed(self, side: str) -> None:
        assert check_order(ACTIVE, self.LIMITS, risk_context(side, recent_orders=2)) is None

    @pytest.mark.parametrize(("side", "recent"), [("bid", 3), ("ask", 3), ("bid", 7)])
    def test_order_at_the_rate_is_refused_naming_count_limit_and_window(
        self, side: str, recent: int
    ) -> None:
        with pytest.raises(SubmitRateLimitError) as refused:
            check_order(ACTIVE, self.LIMITS, risk_context(side, recent_orders=recent))

        assert refused.value.code == "submit_rate_limit"
        assert (
            f"the account placed {recent} orders in the last 60 seconds, at its limit of 3 "
            "orders per minute" in str(refused.value)
        )

    def test_without_the_limit_any_rate_is_allowed(self) -> None:
        assert check_order(ACTIVE, NO_LIMITS, risk_context(recent_orders=10_000)) is None

    def test_reducing_does_not_throttle_asks(self) -> None:
        assert check_order(REDUCING, self.LIMITS, risk_context("ask", recent_orders=9)) is None

    def test_an_order_another_limit_refuses_is_named_for_that_limit(self) -> None:
        limits = Limits(max_order_krw=D("1000"), max_orders_per_minute=1)

        with pytest.raises(OrderNotionalLimitError):
            check_order(ACTIVE, limits, risk_context(recent_orders=5))


def test_state_is_checked_before_any_limit() -> None:
    limits = Limits(max_order_krw=D("1"), max_exposure_krw=D("1"), daily_loss_krw=D("1"))
    context = risk_context("bid", notional_krw="5000", daily_net_pnl_krw="-5")

    with pytest.raises(RiskError) as refused:
        check_order(HALTED, limits, context)

    assert type(refused.value) is TradingHaltedError
