"""`ledger audit verify` and `ledger audit head` through the real executable."""

from __future__ import annotations

import json

import psycopg
from psycopg import sql


def test_audit_verify_exits_0_on_an_untouched_log_and_4_naming_a_changed_event(cli) -> None:
    # Given a log with a capital allocation recorded through the CLI
    done = cli("capital", "allocate", "--strategy", "manual", "--amount", "1000000")
    assert done.returncode == 0, done.stderr

    # When the chain is verified, and the head shown
    intact = cli("audit", "verify")
    head = cli("audit", "head", "--json")

    # Then it is intact and the head covers the whole log
    assert intact.returncode == 0, intact.stderr
    assert "chain intact" in intact.stdout
    body = json.loads(head.stdout)
    assert body["is_caught_up"] and body["count"] == cli.event_count()

    # And when an administrator edits the allocated amount
    with psycopg.connect(cli.postgres_url()) as conn:
        table = sql.Identifier(cli.schema, "ledger_events")
        conn.execute(
            sql.SQL(
                "UPDATE {} SET state = convert_to(replace(convert_from(state, 'UTF8'), "
                "'1000000', '9000000'), 'UTF8') WHERE topic = 'ledger.capital.allocated'"
            ).format(table)
        )
    broken = cli("audit", "verify", "--json")

    # Then verify exits 4 naming the event
    assert broken.returncode == 4, broken.stderr
    found = json.loads(broken.stdout)["first_break"]
    assert found["kind"] == "changed"
    assert found["event"].startswith("ledger.capital.allocated ")
    assert "ledger.capital.allocated" in broken.stderr


def test_audit_verify_help_explains_the_kinds_of_change(cli) -> None:
    shown = cli("audit", "verify", "--help")

    assert shown.returncode == 0
    for word in ("changed", "deleted", "inserted", "reordered", "chain_altered", "docs/audit.md"):
        assert word in shown.stdout
