"""Strategy parameters: defaults, validation, and `NAME=VALUE` overrides with clear errors."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields, replace
from typing import Any, TypeVar

from domain.errors import InvalidStrategyParameterError
from domain.money import to_decimal

P = TypeVar("P")


def with_overrides(defaults: P, overrides: Mapping[str, str], strategy: str) -> P:
    """Return `defaults` (a frozen dataclass) with `overrides` parsed to each field's type.

    Raises:
        InvalidStrategyParameterError: an unknown name, or a value of the wrong kind.
    """
    known = {f.name: f for f in fields(defaults)}  # type: ignore[arg-type]
    changes: dict[str, Any] = {}
    for name, text in overrides.items():
        if name not in known:
            raise InvalidStrategyParameterError(
                f"{strategy} has no parameter {name!r}; its parameters are: "
                + ", ".join(sorted(known))
            )
        current = getattr(defaults, name)
        changes[name] = _parse(text, current, f"{strategy}.{name}")
    return replace(defaults, **changes)  # type: ignore[type-var]


def _parse(text: str, current: object, what: str) -> object:
    if text.lower() in ("", "none", "off") and current is None:
        return None
    if isinstance(current, bool):
        if text.lower() not in ("true", "false"):
            raise InvalidStrategyParameterError(f"{what} {text!r} must be true or false")
        return text.lower() == "true"
    if isinstance(current, int):
        try:
            return int(text)
        except ValueError:
            raise InvalidStrategyParameterError(f"{what} {text!r} must be a whole number") from None
    if isinstance(current, str):
        return text
    try:
        return to_decimal(text, what)
    except Exception:  # noqa: BLE001 - every parse failure becomes the named error
        raise InvalidStrategyParameterError(f"{what} {text!r} must be a decimal number") from None


def require(condition: bool, message: str) -> None:
    """Raise the named parameter error when `condition` does not hold."""
    if not condition:
        raise InvalidStrategyParameterError(message)
