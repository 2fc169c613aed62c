"""docs/security.md points every claim at a test: each one it names exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = re.compile(r"`((?:unit|integration|e2e)/[\w/]+\.py)?(?:::(\w+))?`")


def references(text: str) -> list[tuple[str, str]]:
    """Return (test file, test name or '') for each reference; `::name` alone is the last file's."""
    found: list[tuple[str, str]] = []
    last = ""
    for match in REFERENCE.finditer(text):
        path, name = match.group(1), match.group(2) or ""
        if not path and not name:
            continue
        last = path or last
        assert last, f"`::{name}` names no file before it"
        found.append((last, name))
    return found


def test_every_test_the_security_page_names_exists() -> None:
    found = references((ROOT / "docs" / "security.md").read_text())
    assert len(found) >= 30
    missing = []
    for path, name in found:
        source = ROOT / "tests" / path
        if not source.is_file():
            missing.append(path)
        elif name and not re.search(rf"def {name}\(", source.read_text()):
            missing.append(f"{path}::{name}")
    assert missing == []


def test_a_name_alone_belongs_to_the_file_named_before_it() -> None:
    text = "`unit/a.py::test_one`, `::test_two`, `e2e/b.py`"
    assert references(text) == [
        ("unit/a.py", "test_one"),
        ("unit/a.py", "test_two"),
        ("e2e/b.py", ""),
    ]
