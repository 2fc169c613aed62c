"""The write side's structure (issue 18), checked with `ast` over the repository's own code.

- No class in `commands/` inherits from another class of ours (the error hierarchy aside):
  use cases are plain handler functions, the run engine holds its steps as collaborators.
- No ledger (`Trading`) is constructed outside the composition root, `api/bootstrap.py`; a
  scratch in-memory one comes from the factory it hands out.
- No private name of the eventsourcing library is used (called, read or overridden) outside
  the two places that must: the log's recorder (`adapters/postgres/recorder.py`) and the
  domain's one call of `Aggregate._create` (`domain/events.py`). Both are pinned by the canary
  test `tests/unit/test_library_canary.py`.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import eventsourcing
import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("domain", "commands", "projections", "adapters", "api")
EVERYWHERE = (*PRODUCT, "tests", "migrations")
COMPOSITION_ROOT = "api/bootstrap.py"
LIBRARY_ADAPTERS = {
    "adapters/postgres/recorder.py",
    "domain/events.py",
    "tests/unit/test_library_canary.py",  # the pin of the two
}


def python_files(folders: tuple[str, ...]) -> list[Path]:
    return sorted(p for folder in folders for p in (ROOT / folder).rglob("*.py"))


def relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


@cache
def tree_of(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"))


def base_names(node: ast.ClassDef) -> Iterator[str]:
    for base in node.bases:
        target = base.value if isinstance(base, ast.Subscript) else base
        if isinstance(target, ast.Name):
            yield target.id
        elif isinstance(target, ast.Attribute):
            yield target.attr


@cache
def our_class_names() -> frozenset[str]:
    return frozenset(
        node.name
        for path in python_files(PRODUCT)
        for node in ast.walk(tree_of(path))
        if isinstance(node, ast.ClassDef)
    )


def inheritance_within_ours(tree: ast.Module, ours: frozenset[str]) -> list[str]:
    """Return 'Class(Base)' for each class inheriting from one of `ours` (errors aside)."""
    return [
        f"{node.name}({base})"
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef)
        for base in base_names(node)
        if base in ours and not base.endswith("Error")
    ]


def ledger_constructions(tree: ast.Module) -> list[int]:
    """Return the lines where `Trading(...)` is called."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name == "Trading":
                found.append(node.lineno)
    return found


@cache
def library_private_names() -> frozenset[str]:
    """Every single-underscore name the library defines: functions, methods, attributes."""
    names: set[str] = set()
    for path in Path(eventsourcing.__file__).parent.rglob("*.py"):
        if "tests" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            name = None
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = node.name
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                name = node.attr if node.value.id in ("self", "cls") else None
            if name and name.startswith("_") and not name.startswith("__"):
                names.add(name)
    return frozenset(names)


@cache
def our_own_private_names() -> frozenset[str]:
    """The private names our code defines itself (a function, a method, an attribute)."""
    names: set[str] = set()
    for path in python_files(EVERYWHERE):
        for node in ast.walk(tree_of(path)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                names.add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
    return frozenset(n for n in names if n.startswith("_") and not n.startswith("__"))


def library_private_uses(tree: ast.Module) -> list[str]:
    """Return each use of a library private name: overridden in a class, or read/called."""
    private = library_private_names()
    used = private - our_own_private_names()
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and (
                    item.name in private and any(_is_library_base(b) for b in base_names(node))
                ):
                    found.append(f"{node.name}.{item.name} overrides the library's")
        elif isinstance(node, ast.Attribute) and node.attr in used:
            found.append(f"line {node.lineno}: .{node.attr}")
    return found


def _is_library_base(name: str) -> bool:
    return name not in our_class_names() or name in _OUR_LIBRARY_SUBCLASSES


_OUR_LIBRARY_SUBCLASSES = {"LedgerProcessRecorder", "Trading"}
"""Our classes that are themselves library subclasses (a subclass of them overrides too)."""


def test_the_checks_catch_what_they_are_for() -> None:
    ours = frozenset({"EngineState", "NotFoundError"})
    inheriting = ast.parse("class RunEngine(EngineState): ...\nclass Gone(NotFoundError): ...")
    assert inheritance_within_ours(inheriting, ours) == ["RunEngine(EngineState)"]
    built = ast.parse("import x\nlog = x.Trading(env)\nother = Trading(env, account='a')")
    assert ledger_constructions(built) == [2, 3]
    assert "_record" in library_private_names() and "_insert_events" in library_private_names()
    overriding = ast.parse(
        "class T(Application):\n    def _record(self, e): ...\n"
        "def f(recorder):\n    recorder._insert_events(1, [])\n"
    )
    uses = library_private_uses(overriding)
    assert uses == ["T._record overrides the library's", "line 4: ._insert_events"]


@pytest.mark.parametrize("path", python_files(("commands",)), ids=relative)
def test_no_class_in_commands_inherits_from_another_of_ours(path: Path) -> None:
    assert inheritance_within_ours(tree_of(path), our_class_names()) == []


@pytest.mark.parametrize(
    "path", [p for p in python_files(PRODUCT) if relative(p) != COMPOSITION_ROOT], ids=relative
)
def test_no_ledger_is_constructed_outside_the_composition_root(path: Path) -> None:
    assert ledger_constructions(tree_of(path)) == []


@pytest.mark.parametrize(
    "path",
    [p for p in python_files(EVERYWHERE) if relative(p) not in LIBRARY_ADAPTERS],
    ids=relative,
)
def test_no_private_name_of_the_library_is_used_outside_its_adapters(path: Path) -> None:
    assert library_private_uses(tree_of(path)) == []
