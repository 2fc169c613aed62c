"""The README's shell blocks each run by a named rule, and the runnable ones hold no placeholder."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.e2e.readme_blocks import ReadmeMarkError, readme_blocks

README = Path(__file__).resolve().parents[2] / "README.md"
PLACEHOLDER = re.compile(r"FILE\.|…|\[--|\bID\b|<[a-z_]+>|\b[a-z]+\|[a-z]+\b")


def test_every_shell_block_of_the_readme_runs_or_is_skipped_by_a_named_rule() -> None:
    blocks = readme_blocks(README)
    assert len(blocks) >= 12
    skipped = [b for b in blocks if b.rule == "skip"]
    assert {b.argument for b in skipped} <= {"network", "keys", "placeholders", "suite"}
    assert len(skipped) <= 3, [b.describe() for b in skipped]


@pytest.mark.parametrize(
    "block", [b for b in readme_blocks(README) if b.rule != "skip"], ids=lambda b: f"line{b.line}"
)
def test_a_block_the_readme_test_runs_holds_no_placeholder(block: object) -> None:
    code = getattr(block, "code", "")
    found = [line for line in code.splitlines() if PLACEHOLDER.search(line.split("#")[0])]
    assert found == [], f"{block}: placeholders in a block that runs as written"


def test_a_mark_naming_no_known_rule_is_refused_naming_the_rule(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("text\n<!-- readme-test: sometimes -->\n```bash\nls\n```\n")
    with pytest.raises(ReadmeMarkError, match="line 3: unknown rule 'sometimes'"):
        readme_blocks(readme)


def test_a_skip_without_a_known_reason_is_refused(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("<!-- readme-test: skip slow -->\n```sh\nls\n```\n")
    with pytest.raises(ReadmeMarkError, match="skip needs a reason among"):
        readme_blocks(readme)


def test_unmarked_blocks_run_and_other_languages_are_not_blocks(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("```toml\nx = 1\n```\n\n```bash\nls\n```\n")
    (block,) = readme_blocks(readme)
    assert (block.line, block.code, block.rule) == (5, "ls", "run")
