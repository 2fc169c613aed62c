"""The strategies by name, built from their defaults and `NAME=VALUE` overrides."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import fields
from typing import Any

from domain.errors import InvalidStrategyParameterError
from domain.strategies.base import Strategy
from domain.strategies.grid import Grid, GridParams
from domain.strategies.parameters import with_overrides
from domain.strategies.turtle import Turtle, TurtleParams
from domain.strategies.volatility_breakout import VolatilityBreakout, VolatilityBreakoutParams

STRATEGY_NAMES = ("volatility_breakout", "grid", "turtle")
"""All strategies, in the fixed order of decisions at one close (clarification 9)."""


def build_strategies(
    names: list[str], overrides: Mapping[str, Mapping[str, str]]
) -> list[Strategy]:
    """Return the named strategies (in the fixed order) with their parameter overrides.

    Raises:
        InvalidStrategyParameterError: an unknown strategy, parameter or value.
    """
    unknown = [n for n in [*names, *overrides] if n not in STRATEGY_NAMES]
    if unknown:
        raise InvalidStrategyParameterError(
            f"unknown strategy {unknown[0]!r}; the strategies are: {', '.join(STRATEGY_NAMES)}"
        )
    not_run = [n for n in overrides if n not in names]
    if not_run:
        raise InvalidStrategyParameterError(
            f"parameters were given for {not_run[0]!r}, which is not among the strategies run"
        )
    built: list[Strategy] = []
    for name in STRATEGY_NAMES:
        if name not in names:
            continue
        given = overrides.get(name, {})
        if name == "volatility_breakout":
            built.append(
                VolatilityBreakout(with_overrides(VolatilityBreakoutParams(), given, name))
            )
        elif name == "grid":
            built.append(Grid(with_overrides(GridParams(), given, name)))
        else:
            built.append(Turtle(with_overrides(TurtleParams(), given, name)))
    return built


def resolved_parameters(strategies: Sequence[Strategy]) -> dict[str, dict[str, str]]:
    """Return every parameter of each strategy as the text that `build_strategies` reads back.

    Defaults included, so a replay builds the same strategies even if a default changes later.
    """
    resolved: dict[str, dict[str, str]] = {}
    for strategy in strategies:
        params: Any = getattr(strategy, "params")  # noqa: B009 - each concrete strategy has one
        resolved[strategy.name] = {
            f.name: _parameter_text(getattr(params, f.name)) for f in fields(params)
        }
    return resolved


def _parameter_text(value: object) -> str:
    if value is None:
        return "off"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse_param(text: str) -> tuple[str, str, str]:
    """Return (strategy, name, value) from `STRATEGY.NAME=VALUE`.

    Raises:
        InvalidStrategyParameterError: the text is not of that form.
    """
    key, sep, value = text.partition("=")
    strategy, dot, name = key.partition(".")
    if not sep or not dot or not strategy or not name:
        raise InvalidStrategyParameterError(
            f"parameter {text!r} must be STRATEGY.NAME=VALUE, e.g. grid.levels=12"
        )
    return strategy.strip(), name.strip(), value.strip()
