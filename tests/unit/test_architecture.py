"""Import rules import-linter cannot express (style S1, S1.5, S3.8), checked with `ast`.

`domain/` may use only `eventsourcing.domain` of the library and reads no wall clock, no
environment and no random source; `commands/` reads no clock and draws no random id.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Names whose use reads the wall clock, the environment or a random source.
WALL_CLOCK = {
    "datetime.now",
    "datetime.utcnow",
    "datetime.today",
    "datetime.datetime.now",
    "datetime.datetime.utcnow",
    "datetime.datetime.today",
    "date.today",
    "datetime.date.today",
    "time",
    "time.time",
    "time.time_ns",
    "time.monotonic",
    "time.perf_counter",
    "time.localtime",
    "time.gmtime",
}
ENVIRONMENT = {"os.environ", "os.getenv", "os.environb", "os.putenv"}
RANDOMNESS = {
    "random",
    "secrets",
    "os.urandom",
    "uuid.uuid1",
    "uuid.uuid4",
    "uuid1",
    "uuid4",
    "numpy.random",
    "np.random",
}
FORBIDDEN = WALL_CLOCK | ENVIRONMENT | RANDOMNESS

# Style S1: the wall clock may be read in domain/clock.py only (it does not, today).
ALLOWED_IN = {"domain/clock.py": WALL_CLOCK}

# The write side may import the `time` module (its retry back-off sleeps) and is configured
# through the library's env mapping, but it never reads the clock nor draws a random number.
FORBIDDEN_IN_COMMANDS = (WALL_CLOCK - {"time"}) | RANDOMNESS

PUBLIC_STANDARD_LIBRARY = {name for name in sys.stdlib_module_names if not name.startswith("_")} | {
    "__future__"
}  # (`sys.stdlib_module_names` lists `__future__` too)
"""The standard library less CPython's private modules (`_json`, `_decimal`): a minor Python
release may change or drop them without notice."""
DOMAIN_MAY_IMPORT = {"domain", "eventsourcing", "numpy", "orjson"} | PUBLIC_STANDARD_LIBRARY
FIRST_PARTY = ("domain", "commands", "projections", "adapters", "api")


def modules(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted(node.value)
        return None if base is None else f"{base}.{node.attr}"
    return None


def imported_modules(tree: ast.AST) -> Iterator[str]:
    """Yield every absolute module an import statement names (`from a.b import c` gives a.b.c)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def used_names(tree: ast.AST) -> Iterator[str]:
    """Yield the imports and the dotted names (`datetime.now`, `os.environ`) a module uses."""
    yield from imported_modules(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            name = dotted(node)
            if name is not None:
                yield name


def private_standard_modules(source: str) -> set[str]:
    """Return the private CPython modules (`_json`) a module imports."""
    tops = {name.split(".")[0] for name in imported_modules(ast.parse(source))}
    return {top for top in tops if top in sys.stdlib_module_names and _is_private(top)}


def _is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def forbidden_uses(source: str, forbidden: set[str] = FORBIDDEN) -> set[str]:
    return {name for name in used_names(ast.parse(source)) if name in forbidden}


def eventsourcing_imports_other_than_domain(source: str) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = (
                [f"{node.module}.{alias.name}" for alias in node.names]
                if node.module == "eventsourcing"
                else [node.module]
            )
        else:
            continue
        for name in names:
            if name.split(".")[0] != "eventsourcing":
                continue
            if name != "eventsourcing.domain" and not name.startswith("eventsourcing.domain."):
                found.add(name)
    return found


# The checkers themselves: each must catch what it is there to catch.
@pytest.mark.parametrize(
    ("source", "caught"),
    [
        ("from datetime import datetime\nx = datetime.now()", "datetime.now"),
        ("import datetime\nx = datetime.datetime.now(datetime.UTC)", "datetime.datetime.now"),
        ("import time\nx = time.time()", "time.time"),
        ("from time import monotonic", "time.monotonic"),
        ("import os\nx = os.environ['X']", "os.environ"),
        ("from os import getenv", "os.getenv"),
        ("from uuid import uuid4", "uuid.uuid4"),
        ("import uuid\nx = uuid.uuid4()", "uuid.uuid4"),
        ("import random", "random"),
        ("from random import choice", "random"),
    ],
)
def test_forbidden_use_checker_catches_wall_clock_environment_and_randomness(
    source: str, caught: str
) -> None:
    assert caught in forbidden_uses(source)


def test_forbidden_use_checker_allows_the_datetime_time_class_and_uuid5() -> None:
    source = "from datetime import UTC, datetime, time\nfrom uuid import uuid5\nt = time(9, 0)"

    assert forbidden_uses(source) == set()


def test_commands_checker_allows_sleeping_but_not_reading_the_clock() -> None:
    assert forbidden_uses("import time\ntime.sleep(0.1)", FORBIDDEN_IN_COMMANDS) == set()
    assert forbidden_uses("import time\nx = time.time()", FORBIDDEN_IN_COMMANDS) == {"time.time"}


@pytest.mark.parametrize(
    ("source", "caught"),
    [
        ("from eventsourcing.application import Application", "eventsourcing.application"),
        ("import eventsourcing.persistence", "eventsourcing.persistence"),
        ("from eventsourcing import postgres", "eventsourcing.postgres"),
        ("import eventsourcing", "eventsourcing"),
    ],
)
def test_eventsourcing_checker_catches_parts_other_than_the_domain_module(
    source: str, caught: str
) -> None:
    assert eventsourcing_imports_other_than_domain(source) == {caught}


def test_eventsourcing_checker_allows_the_domain_module() -> None:
    source = "from eventsourcing.domain import Aggregate\nfrom eventsourcing import domain"

    assert eventsourcing_imports_other_than_domain(source) == set()


# The rules applied to the code.
def test_folders_under_check_hold_modules() -> None:
    assert len(modules("domain")) >= 15
    assert len(modules("commands")) >= 4


@pytest.mark.parametrize("path", modules("domain"), ids=relative)
def test_domain_module_uses_no_part_of_eventsourcing_but_its_domain_module(path: Path) -> None:
    assert eventsourcing_imports_other_than_domain(path.read_text()) == set()


@pytest.mark.parametrize("path", modules("domain"), ids=relative)
def test_domain_module_imports_only_the_domain_the_standard_library_numpy_orjson_eventsourcing(
    path: Path,
) -> None:
    tree = ast.parse(path.read_text())
    top_levels = {name.split(".")[0] for name in imported_modules(tree)}

    assert top_levels <= DOMAIN_MAY_IMPORT


@pytest.mark.parametrize("path", modules("domain"), ids=relative)
def test_domain_module_reads_no_wall_clock_environment_or_random_source(path: Path) -> None:
    forbidden = FORBIDDEN - ALLOWED_IN.get(relative(path), set())

    assert forbidden_uses(path.read_text(), forbidden) == set()


@pytest.mark.parametrize("path", modules("commands"), ids=relative)
def test_commands_module_reads_no_wall_clock_and_draws_no_random_id(path: Path) -> None:
    assert forbidden_uses(path.read_text(), FORBIDDEN_IN_COMMANDS) == set()


@pytest.mark.parametrize(
    "source", ["from _json import make_encoder", "import _decimal", "import _thread as t"]
)
def test_private_module_checker_catches_cpythons_private_modules(source: str) -> None:
    assert private_standard_modules(source)


def test_private_module_checker_allows_public_modules_and_future_imports() -> None:
    source = "from __future__ import annotations\nimport json\nfrom decimal import Decimal"
    assert private_standard_modules(source) == set()


@pytest.mark.parametrize(
    "path", [path for folder in FIRST_PARTY for path in modules(folder)], ids=relative
)
def test_no_module_of_ours_imports_a_private_module_of_cpython(path: Path) -> None:
    assert private_standard_modules(path.read_text()) == set()
