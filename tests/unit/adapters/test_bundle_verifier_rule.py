"""The bundle's stand-alone verifier keeps the ledger's link rule and the standard library only."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

from adapters.audit_bundle import verify_bundle
from domain.audit import link
from domain.audit.checkpoint import ChainCheckpoint

SCRIPT = Path(verify_bundle.__file__)


def test_the_verifier_copies_the_link_rule_exactly() -> None:
    canonical = '{"position":1,"reason":"운영자","topic":"risk.trading.halted"}'
    digest = link.event_digest(canonical)

    assert verify_bundle.LINK_RULE == link.LINK_RULE
    assert verify_bundle.GENESIS_LINK == link.GENESIS_LINK
    assert verify_bundle.event_digest(canonical) == digest
    assert verify_bundle.link_after(link.GENESIS_LINK, digest) == link.chain_link(
        link.GENESIS_LINK, canonical
    )
    assert verify_bundle.CHECKPOINT_TOPIC == ChainCheckpoint.Checkpointed.TOPIC


def test_the_verifier_imports_nothing_but_the_standard_library() -> None:
    tree = ast.parse(SCRIPT.read_text("utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported.add(node.module.split(".")[0])

    assert imported, "the parse found no imports at all"
    assert imported - {"__future__"} <= set(sys.stdlib_module_names), imported
