"""No import cycle between our modules, anywhere: a module graph from every import statement
(module level, inside functions, and under TYPE_CHECKING), checked for strongly connected
components."""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIRST_PARTY = ("domain", "commands", "projections", "adapters", "api")


def module_files(root: Path, packages: Iterable[str]) -> dict[str, Path]:
    """Return dotted module name -> file for every module of `packages` under `root`."""
    found: dict[str, Path] = {}
    for package in packages:
        for path in (root / package).rglob("*.py"):
            parts = path.relative_to(root).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def import_graph(files: Mapping[str, Path]) -> dict[str, set[str]]:
    """Return module -> the modules of `files` it imports (any import statement at all)."""

    def resolve(name: str) -> str | None:
        parts = name.split(".")
        for end in range(len(parts), 0, -1):
            if ".".join(parts[:end]) in files:
                return ".".join(parts[:end])
        return None

    graph: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str | None] = []
            if isinstance(node, ast.Import):
                targets = [resolve(alias.name) for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join([*up, *([node.module] if node.module else [])])
                targets = [resolve(f"{base}.{alias.name}") or resolve(base) for alias in node.names]
            graph[name].update(t for t in targets if t is not None and t != name)
    return graph


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Return the graph's strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_module_of_ours_takes_part_in_an_import_cycle() -> None:
    assert cycles(import_graph(module_files(ROOT, FIRST_PARTY))) == []


def test_the_cycle_check_finds_a_cycle_through_a_function_and_a_type_only_import(
    tmp_path: Path,
) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("def f():\n    from pkg.b import g\n")
    (package / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import c\n"
    )
    (package / "c.py").write_text("from . import a\n")
    (package / "d.py").write_text("import pkg.a\n")

    found = cycles(import_graph(module_files(tmp_path, ["pkg"])))

    assert found == [["pkg.a", "pkg.b", "pkg.c"]]
