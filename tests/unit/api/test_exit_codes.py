"""The exit code of each kind of error that reaches the top of `ledger` (api/cli/main.py):
every error class the table names exists where it says, and an error of it gets its code."""

from __future__ import annotations

import importlib

import pytest

from api.cli.main import EXIT_CODES, exit_code_for

NAMED = [(code, name) for code, names in EXIT_CODES for name in names]


def named_class(name: str) -> type[BaseException]:
    module_name, _, class_name = name.rpartition(".")
    cls = getattr(importlib.import_module(module_name), class_name)
    assert isinstance(cls, type) and issubclass(cls, BaseException), name
    return cls


def an_error_of(cls: type[BaseException]) -> BaseException:
    """An instance made without its constructor's arguments: enough for `isinstance`."""
    return cls.__new__(cls)


@pytest.mark.parametrize(("code", "name"), NAMED, ids=[name for _, name in NAMED])
def test_a_named_error_class_is_defined_in_the_module_named_and_its_errors_get_its_code(
    code: int, name: str
) -> None:
    cls = named_class(name)

    assert f"{cls.__module__}.{cls.__qualname__}" == name  # not a re-export: where it is made
    assert exit_code_for(an_error_of(cls)) == code


def test_a_permanent_refusal_of_the_exchange_exits_2_though_the_exchange_failing_exits_3() -> None:
    permanent = named_class("adapters.upbit.errors.UpbitPermanentError")
    failing = named_class("adapters.upbit.errors.UpbitError")

    assert issubclass(permanent, failing)
    assert exit_code_for(an_error_of(permanent)) == 2
    assert exit_code_for(an_error_of(failing)) == 3


def test_any_other_error_is_a_bug_and_exits_1() -> None:
    assert exit_code_for(ValueError("x")) == 1
    assert exit_code_for(KeyError("x")) == 1
