"""The README's shell blocks, each with the rule the README test runs it by.

A block is a fenced ```bash or ```sh block. The line right above its fence may carry a mark,
`<!-- readme-test: RULE [ARGUMENT] -->`, that says how a reader runs it when it cannot simply be
pasted into a terminal and left to finish:

- `skip network` / `skip keys` / `skip placeholders` / `skip suite`: not run — it needs the
  internet or real Upbit keys, it is a synopsis with placeholders, or it is `make test` itself;
- `ctrl-c-when-up URL`: run until URL answers, then Ctrl-C (e.g. `make run`);
- `background URL`: started as in a second terminal, left running until the README is done
  (then Ctrl-C), the next blocks run once URL answers;
- `ctrl-c-after SECONDS`: a command that follows a live feed until Ctrl-C;
- `short`: a long block, run on the first hours of its candle files instead of all of them.

Every other block runs as written, in README order, in one shell state (exported variables and
the activated venv carry over from block to block, as in one terminal).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

SKIP_REASONS = {
    "network": "needs the internet (Upbit itself)",
    "keys": "needs real Upbit keys",
    "placeholders": "a synopsis: placeholders, not commands",
    "suite": "the test suite itself",
}
RULES = ("run", "skip", "ctrl-c-when-up", "background", "ctrl-c-after", "short")

_FENCE = re.compile(r"^```(\w*)\s*$")
_MARK = re.compile(r"^<!--\s*readme-test:\s*(?P<rule>[\w-]+)(?:\s+(?P<argument>\S+))?\s*-->$")
_SHELLS = ("bash", "sh")


class ReadmeMarkError(ValueError):
    """A README mark names no known rule, or lacks the argument its rule needs."""


@dataclass(frozen=True)
class Block:
    """One shell block of the README and the rule it runs by."""

    line: int  # of its opening fence, 1-based
    code: str
    rule: str = "run"
    argument: str = ""

    def describe(self) -> str:
        first = self.code.strip().splitlines()[0] if self.code.strip() else ""
        return f"README line {self.line} ({self.rule}): {first}"


def readme_blocks(path: Path) -> list[Block]:
    """Return the README's shell blocks in order, each with its rule (checked)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if not opening or not opening.group(1):
            index += 1
            continue
        end = next(
            (j for j in range(index + 1, len(lines)) if lines[j].strip() == "```"), len(lines)
        )
        if opening.group(1) in _SHELLS:
            mark = _MARK.match(lines[index - 1].strip()) if index else None
            rule, argument = (
                (mark.group("rule"), mark.group("argument") or "") if mark else ("run", "")
            )
            blocks.append(
                _checked(Block(index + 1, "\n".join(lines[index + 1 : end]), rule, argument))
            )
        index = end + 1
    return blocks


def _checked(block: Block) -> Block:
    where = f"README line {block.line}"
    if block.rule not in RULES:
        raise ReadmeMarkError(f"{where}: unknown rule {block.rule!r}; known: {', '.join(RULES)}")
    if block.rule == "skip" and block.argument not in SKIP_REASONS:
        raise ReadmeMarkError(
            f"{where}: skip needs a reason among {', '.join(SKIP_REASONS)}, not {block.argument!r}"
        )
    if block.rule in ("ctrl-c-when-up", "background") and not block.argument.startswith("http"):
        raise ReadmeMarkError(f"{where}: {block.rule} needs the URL that answers once it is up")
    if block.rule == "ctrl-c-after" and not block.argument.isdigit():
        raise ReadmeMarkError(f"{where}: ctrl-c-after needs whole seconds, not {block.argument!r}")
    return block
