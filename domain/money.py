"""Money and quantities: Decimal KRW amounts and BTC volumes, with their validation and rounding.

No float anywhere (style S3.7). BTC quantities round *down* to 8 decimals (strategies.md
"Numbers").
"""

from __future__ import annotations

import re
from decimal import ROUND_DOWN, Decimal, InvalidOperation

from domain.constants import BTC_QUANTUM, MAX_BTC_FIGURE, MAX_KRW_FIGURE
from domain.errors import InvalidAmountError

PLAIN_DECIMAL = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)")
"""How a figure is written as text: digits and an optional point, no exponent (as the API)."""


def to_decimal(value: object, what: str) -> Decimal:
    """Return `value` as a finite Decimal without an exponent (2E+7 becomes 20000000).

    Text must be a plain decimal (`20000000`, `0.001`): `2e7` is refused, as the API refuses
    it, rather than stored as `2E+7`.

    Raises:
        InvalidAmountError: `value` is a float, not a number, not finite, or text in another
            notation.
    """
    if isinstance(value, (bool, float)):
        raise InvalidAmountError(
            f"{what} {value!r} was given as a {type(value).__name__}; give it as a decimal string"
        )
    if isinstance(value, str):  # the common case on the write path: no exponent to undo
        if PLAIN_DECIMAL.fullmatch(value) is None:
            raise InvalidAmountError(
                f"{what} {value!r} is not a decimal number written plainly (digits with an "
                "optional decimal point; no exponent, spaces or separators)"
            )
        return Decimal(value)
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise InvalidAmountError(f"{what} {value!r} is not a decimal number") from None
    if not number.is_finite():
        raise InvalidAmountError(f"{what} {value!r} is not a finite number")
    if number.as_tuple().exponent > 0:  # type: ignore[operator]  # finite: an int exponent
        number = number.quantize(Decimal(1))
    return number


def positive_krw(value: object, what: str) -> Decimal:
    """Return a KRW amount that is > 0, kept exactly (strategies size amounts to 28 digits).

    Raises:
        InvalidAmountError: the amount is not positive, or absurdly large.
    """
    number = to_decimal(value, what)
    if number <= 0:
        raise InvalidAmountError(f"{what} {value} KRW must be greater than 0")
    _require_at_most(number, MAX_KRW_FIGURE, what, "KRW")
    return number


def whole_krw(value: object, what: str) -> Decimal:
    """Return a KRW amount that is > 0 and a whole number of won (KRW has no smaller unit).

    For what a person sets (capital, limits, a market bid's amount); amounts a strategy sizes
    are kept exactly (`positive_krw`).

    Raises:
        InvalidAmountError: the amount is not positive, too large, or has a fraction of a won.
    """
    number = positive_krw(value, what)
    if number != number.to_integral_value():
        raise InvalidAmountError(
            f"{what} {value} KRW is not a whole number of KRW (the won has no smaller unit)"
        )
    return number


def non_negative_krw(value: object, what: str) -> Decimal:
    """Return a KRW amount that is >= 0 (fees may be zero).

    Raises:
        InvalidAmountError: the amount is negative.
    """
    number = to_decimal(value, what)
    if number < 0:
        raise InvalidAmountError(f"{what} {value} KRW must not be negative")
    _require_at_most(number, MAX_KRW_FIGURE, what, "KRW")
    return number


def positive_btc(value: object, what: str) -> Decimal:
    """Return a BTC quantity that is > 0 and a whole number of satoshis (1e-8 BTC).

    Raises:
        InvalidAmountError: the quantity is not positive or finer than 1e-8 BTC.
    """
    number = to_decimal(value, what)
    if number <= 0:
        raise InvalidAmountError(f"{what} {value} BTC must be greater than 0")
    _require_at_most(number, MAX_BTC_FIGURE, what, "BTC")
    if number != floor8(number):
        raise InvalidAmountError(
            f"{what} {value} BTC is finer than {BTC_QUANTUM} BTC (8 decimal places)"
        )
    return number


def _require_at_most(number: Decimal, limit: Decimal, what: str, unit: str) -> None:
    if number > limit:
        raise InvalidAmountError(
            f"{what} {number} {unit} is above the largest accepted {limit:,} {unit}"
        )


def floor8(quantity: Decimal) -> Decimal:
    """Return the BTC quantity rounded down to 8 decimal places."""
    return quantity.quantize(BTC_QUANTUM, rounding=ROUND_DOWN)


def fraction(value: object, what: str) -> Decimal:
    """Return a fraction in (0, 1], e.g. a drawdown limit of 0.2 for 20 %.

    Raises:
        InvalidAmountError: the value is outside (0, 1].
    """
    number = to_decimal(value, what)
    if not Decimal(0) < number <= Decimal(1):
        raise InvalidAmountError(f"{what} {value} must be a fraction in (0, 1]")
    return number
