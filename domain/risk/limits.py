"""The RiskLimits aggregate: the account's limits and its trading state ACTIVE/REDUCING/HALTED.

Every change names its actor and reason. Daily loss counts per trading day (strategies.md
"Session": 09:00 KST to 09:00 KST). The drawdown limit is recorded here; it is evaluated by the
risk monitor against marked equity. The submit rate counts the orders placed in the trailing
`SUBMIT_RATE_WINDOW` of domain time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from eventsourcing.domain import Aggregate

from domain.errors import InvalidAmountError, InvalidRiskLimitError, TradingStateUnchangedError
from domain.events import (
    REASON_MAX_CHARS,
    Cause,
    LedgerCreated,
    LedgerEvent,
    create_aggregate,
    require_text,
)
from domain.ids import risk_limits_id
from domain.money import fraction, whole_krw
from domain.risk.breach import Breach
from domain.risk.trading_state import TradingState

SUBMIT_RATE_WINDOW = timedelta(seconds=60)
"""The trailing span of domain time in which `max_orders_per_minute` counts placed orders."""
MAX_ORDERS_PER_MINUTE = 1_000_000
"""The largest accepted submit-rate limit: a guard against absurd figures (Upbit itself takes
at most 12 orders a second, 720 a minute: upbit-api.md section 3)."""


class CarriesLimits(Protocol):
    """An event with the limit fields (a run's start, a limits change)."""

    @property
    def max_order_krw(self) -> Decimal | None: ...  # noqa: D102
    @property
    def max_exposure_krw(self) -> Decimal | None: ...  # noqa: D102
    @property
    def daily_loss_krw(self) -> Decimal | None: ...  # noqa: D102
    @property
    def max_drawdown(self) -> Decimal | None: ...  # noqa: D102
    @property
    def max_orders_per_minute(self) -> int | None: ...  # noqa: D102


@dataclass(frozen=True)
class Limits:
    """The limit values; None means no limit."""

    max_order_krw: Decimal | None = None
    max_exposure_krw: Decimal | None = None
    daily_loss_krw: Decimal | None = None
    max_drawdown: Decimal | None = None
    max_orders_per_minute: int | None = None
    """Orders the account may place in the trailing `SUBMIT_RATE_WINDOW` of domain time."""

    @classmethod
    def parse(
        cls,
        *,
        max_order_krw: object = None,
        max_exposure_krw: object = None,
        daily_loss_krw: object = None,
        max_drawdown: object = None,
        max_orders_per_minute: object = None,
    ) -> Limits:
        """Return validated limits.

        Raises:
            InvalidRiskLimitError: a limit is not positive, the drawdown is not in (0, 1], or
                the orders per minute are not a whole number from 1 to 1,000,000.
        """
        try:
            return cls(
                max_order_krw=_optional(max_order_krw, whole_krw, "max order notional"),
                max_exposure_krw=_optional(max_exposure_krw, whole_krw, "max exposure"),
                daily_loss_krw=_optional(daily_loss_krw, whole_krw, "daily loss limit"),
                max_drawdown=_optional(max_drawdown, fraction, "max drawdown"),
                max_orders_per_minute=None
                if max_orders_per_minute is None
                else _orders_per_minute(max_orders_per_minute),
            )
        except InvalidAmountError as error:
            raise InvalidRiskLimitError(str(error)) from None

    @classmethod
    def of_event(cls, event: CarriesLimits) -> Limits:
        """Return the limits an event carries in fields of the same names (as recorded)."""
        return cls(
            max_order_krw=event.max_order_krw,
            max_exposure_krw=event.max_exposure_krw,
            daily_loss_krw=event.daily_loss_krw,
            max_drawdown=event.max_drawdown,
            max_orders_per_minute=event.max_orders_per_minute,
        )

    def as_fields(self) -> dict[str, Decimal | int | None]:
        """Return the limits as event fields."""
        return {
            "max_order_krw": self.max_order_krw,
            "max_exposure_krw": self.max_exposure_krw,
            "daily_loss_krw": self.daily_loss_krw,
            "max_drawdown": self.max_drawdown,
            "max_orders_per_minute": self.max_orders_per_minute,
        }


def _optional(value: object, parse: Any, what: str) -> Decimal | None:
    return None if value is None else parse(value, what)


def _orders_per_minute(value: object) -> int:
    # A count, not a figure: an int, a string of digits, or an integral Decimal; never a float.
    count: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        count = value
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        count = int(value.strip())
    elif isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        count = int(value)
    if count is None or not 1 <= count <= MAX_ORDERS_PER_MINUTE:
        raise InvalidRiskLimitError(
            f"max orders per minute {value!r} must be a whole number of orders from 1 to "
            f"{MAX_ORDERS_PER_MINUTE:,} (leave the limit out to place orders at any rate)"
        )
    return count


class RiskLimits(Aggregate):
    """The risk limits and trading state of one account."""

    class Created(LedgerCreated):
        """The account's risk record was created: no limits, trading ACTIVE."""

        TOPIC = "risk.limits.created"
        account: str

        def apply(self, risk: RiskLimits) -> None:
            """Evolve the risk's state by this event."""
            risk.account = self.account
            risk.limit_values = Limits().as_fields()
            risk.state = TradingState.ACTIVE
            risk.state_reason = "created"

    class LimitsSet(LedgerEvent):
        """The limit values were set.

        Version 2 adds `max_orders_per_minute` (None: no limit); a version 1 event, recorded
        before the submit-rate limit existed, reads as one without it.
        """

        TOPIC = "risk.limits.set"
        class_version = 2
        max_order_krw: Decimal | None
        max_exposure_krw: Decimal | None
        daily_loss_krw: Decimal | None
        max_drawdown: Decimal | None
        max_orders_per_minute: int | None
        reason: str

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            """Read limits set before the submit-rate limit existed as having none."""
            state["max_orders_per_minute"] = None

        @property
        def limits(self) -> Limits:
            """Return the limits this event set."""
            return Limits.of_event(self)

        def apply(self, risk: RiskLimits) -> None:
            """Evolve the risk's state by this event."""
            risk.limit_values = self.limits.as_fields()

    class _StateChanged(LedgerEvent):
        from_state: str
        reason: str
        to_state = TradingState.ACTIVE

        def apply(self, risk: RiskLimits) -> None:
            """Evolve the risk's state by this event."""
            risk.state = self.to_state
            risk.state_reason = self.reason

    class TradingHalted(_StateChanged):
        """Trading was halted: no order may be placed."""

        TOPIC = "risk.trading.halted"
        to_state = TradingState.HALTED

    class TradingReduced(_StateChanged):
        """Trading was restricted to reducing exposure."""

        TOPIC = "risk.trading.reduced"
        to_state = TradingState.REDUCING

    class TradingResumed(_StateChanged):
        """Trading was resumed (ACTIVE)."""

        TOPIC = "risk.trading.resumed"
        to_state = TradingState.ACTIVE

    class LimitBreached(LedgerEvent):
        """A portfolio limit was crossed at a candle close (the risk monitor's finding)."""

        TOPIC = "risk.limit.breached"
        limit: str
        strategy_id: str
        measured: Decimal
        threshold: Decimal
        action: str
        candle_open_time: datetime

        def apply(self, risk: RiskLimits) -> None:
            """A breach changes no state by itself; its action follows as its own event."""

    account: str
    limit_values: dict[str, Any]
    """The fields of `Limits` (a snapshot taken before a limit existed lacks its key)."""
    state: TradingState
    state_reason: str

    def __init__(self) -> None:
        """State is set by the Created event; see `create`."""

    @property
    def limits(self) -> Limits:
        """Return the limits in force."""
        return Limits(**self.limit_values)

    @classmethod
    def create(cls, *, account: str, cause: Cause) -> RiskLimits:
        """Create the risk record of an account (no limits, ACTIVE)."""
        name = require_text(account, "account")
        return create_aggregate(
            cls, cls.Created, id=risk_limits_id(name), account=name, **cause.event_fields()
        )

    def set_limits(self, limits: Limits, reason: str, cause: Cause) -> None:
        """Set every limit value at once (None removes a limit).

        Raises:
            MissingTextError: the reason is blank.
        """
        self.trigger_event(
            self.LimitsSet,
            reason=require_text(reason, "reason", REASON_MAX_CHARS),
            **limits.as_fields(),
            **cause.event_fields(),
        )

    def record_breach(self, breach: Breach, cause: Cause) -> None:
        """Record a breach and the state change its action implies, in that order.

        HALT halts unless already HALTED; REDUCE restricts an ACTIVE account to reducing;
        BLOCK_BIDS changes no state (the pre-trade exposure rule does the blocking).
        """
        self.trigger_event(
            self.LimitBreached,
            limit=breach.limit.value,
            strategy_id=breach.strategy_id,
            measured=breach.measured,
            threshold=breach.threshold,
            action=breach.action.value,
            candle_open_time=breach.candle_open_time,
            **cause.event_fields(),
        )
        target = breach.action.state
        escalates = target is TradingState.HALTED or self.state is TradingState.ACTIVE
        if target is not None and target is not self.state and escalates:
            self.change_state(target, f"limit breached: {breach.describe()}", cause)

    def change_state(self, to_state: TradingState, reason: str, cause: Cause) -> None:
        """Move trading to `to_state` (halt, reduce or resume), naming actor and reason.

        Raises:
            TradingStateUnchangedError: trading is already in `to_state`.
            MissingTextError: the reason is blank.
        """
        if to_state is self.state:
            raise TradingStateUnchangedError(
                f"trading is already {self.state.value} (since: {self.state_reason})"
            )
        event_class = {
            TradingState.HALTED: self.TradingHalted,
            TradingState.REDUCING: self.TradingReduced,
            TradingState.ACTIVE: self.TradingResumed,
        }[to_state]
        self.trigger_event(
            event_class,
            from_state=self.state.value,
            reason=require_text(reason, "reason", REASON_MAX_CHARS),
            **cause.event_fields(),
        )
