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


def test_the_verifier_knows_the_seal_s_bus_name() -> None:
    from domain.audit.seal import BundleSeal

    assert verify_bundle.SEAL_TOPIC == BundleSeal.Sealed.TOPIC


def test_a_selection_of_everything_or_of_positions_needs_every_row_of_its_range_in_full() -> None:
    everything = verify_bundle.Selection.of({"selection": {}})
    positions = verify_bundle.Selection.of({"selection": {"from_position": 5, "to_position": 9}})

    assert everything.mark_differs(3, exported=False) is not None
    assert everything.mark_differs(3, exported=True) is None
    assert positions.mark_differs(7, exported=False) is not None
    assert positions.mark_differs(4, exported=False) is None
    assert positions.mark_differs(10, exported=True) is not None


def test_a_selection_by_fields_names_a_line_of_another_strategy_market_or_time() -> None:
    grid = verify_bundle.Selection.of({"selection": {"strategy": "grid", "market": "KRW-BTC"}})
    march = verify_bundle.Selection.of(
        {
            "selection": {
                "from_time": "2026-03-01T00:00:00+00:00",
                "to_time": "2026-04-01T00:00:00+00:00",
            }
        }
    )

    assert grid.mark_differs(7, exported=False) is None  # a left-out row may be another's
    assert grid.line_differs({"strategy_id": "vb"}) is not None
    assert grid.line_differs({"market": "KRW-ETH"}) is not None
    assert grid.line_differs({"strategy_id": "grid", "market": "KRW-BTC"}) is None
    assert grid.line_differs({"reason": "account-wide"}) is None
    assert march.line_differs({"occurred_at": "2026-02-28T23:59:59+00:00"}) is not None
    assert march.line_differs({"occurred_at": "2026-03-02T00:00:00+00:00"}) is None


def test_a_selection_with_values_of_the_wrong_type_is_read_as_the_strictest_everything() -> None:
    odd = verify_bundle.Selection.of({"selection": {"from_position": "5", "market": 3}})

    assert odd == verify_bundle.Selection()
