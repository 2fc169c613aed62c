"""`ledger audit verify` and `ledger audit head` as an auditor runs them.

An allocation and an export go through the real executable; the other commands run `ledger`
in this process (`Cli.inline`, the same entry point)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import psycopg
from psycopg import sql

from tests.e2e.conftest import Cli


def test_audit_verify_exits_0_on_an_untouched_log_and_4_naming_a_changed_event(cli: Cli) -> None:
    # Given a log with a capital allocation recorded through the CLI
    done = cli("capital", "allocate", "--strategy", "manual", "--amount", "1000000")
    assert done.returncode == 0, done.stderr

    # When the chain is verified, and the head shown
    ledger = cli.inline()
    intact = ledger("audit", "verify")
    head = ledger("audit", "head", "--json")

    # Then it is intact and the head covers the whole log
    assert intact.returncode == 0, intact.stderr
    assert "chain intact" in intact.stdout
    assert "snapshots matching their events" in intact.stdout  # the CLI checks snapshots
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
    broken = ledger("audit", "verify", "--json")

    # Then verify exits 4 naming the event
    assert broken.returncode == 4, broken.stderr
    found = json.loads(broken.stdout)["first_break"]
    assert found["kind"] == "changed"
    assert found["event"].startswith("ledger.capital.allocated ")
    assert "ledger.capital.allocated" in broken.stderr


def test_audit_verify_help_explains_the_kinds_of_change(cli: Cli) -> None:
    shown = cli.inline()("audit", "verify", "--help")

    assert shown.returncode == 0
    for word in (
        "changed",
        "deleted",
        "inserted",
        "reordered",
        "chain_altered",
        "snapshot_altered",
        "docs/audit.md",
    ):
        assert word in shown.stdout


def python3_alone(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run python3 with nothing of the project: isolated (-I), no site-packages (-S)."""
    return subprocess.run(
        [shutil.which("python3") or sys.executable, "-I", "-S", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
        timeout=60,
        check=False,
    )


def test_audit_export_writes_a_bundle_that_verify_bundle_and_its_own_script_accept(
    cli: Cli, tmp_path: Path
) -> None:
    # Given a log with two allocations
    ledger = cli.inline()
    for strategy in ("vb", "grid"):
        done = ledger("capital", "allocate", "--strategy", strategy, "--amount", "1000000")
        assert done.returncode == 0, done.stderr

    # When it is exported as a .tar.gz, and verified by the CLI and by python3 alone
    archive = tmp_path / "audit.tar.gz"
    exported = cli("audit", "export", "--out", str(archive), "--json")
    checked = ledger("audit", "verify-bundle", str(archive))
    with tarfile.open(archive) as tar:
        tar.extractall(tmp_path / "unpacked", filter="data")
    (root,) = (tmp_path / "unpacked").iterdir()
    alone = python3_alone("verify_bundle.py", ".", cwd=root)

    # Then all three agree on the head, and every event of the log is in the bundle
    assert exported.returncode == 0, exported.stderr
    manifest = json.loads(exported.stdout)
    head, seal = manifest["chain"]["head"], manifest["seal"]
    assert manifest["events"]["count"] == head["count"] == cli.event_count() - 1  # and its seal
    assert seal["count"] == head["count"] + 1
    assert checked.returncode == 0, checked.stderr
    assert "bundle intact" in checked.stdout and seal["link"] in checked.stdout
    assert alone.returncode == 0, alone.stdout + alone.stderr
    assert seal["link"] in alone.stdout

    # And once an event line is changed, both name it and exit 4
    events = root / "events.jsonl"
    lines = events.read_text("utf-8").splitlines()
    target = next(i for i, line in enumerate(lines) if '"strategy_id":"grid"' in line)
    lines[target] = lines[target].replace('"1000000"', '"9000000"')
    events.write_text("\n".join(lines) + "\n", "utf-8")
    broken = ledger("audit", "verify-bundle", str(root))
    alone = python3_alone("verify_bundle.py", ".", cwd=root)
    assert broken.returncode == 4
    assert "ledger.capital.allocated" in broken.stderr and ": changed:" in broken.stderr
    assert alone.returncode == 4 and ": changed:" in alone.stdout


def test_audit_export_refuses_bad_input_and_writes_nothing(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "taken.tar.gz").write_text("mine")

    ledger = cli.inline()
    bad_bound = ledger("audit", "export", "--out", str(tmp_path / "a"), "--from", "last week")
    taken = ledger("audit", "export", "--out", str(tmp_path / "taken.tar.gz"))
    reversed_range = ledger(
        "audit", "export", "--out", str(tmp_path / "b"), "--from", "9", "--to", "2"
    )
    no_bundle = ledger("audit", "verify-bundle", str(tmp_path / "nothing-here"))

    assert bad_bound.returncode == 2 and "'last week'" in bad_bound.stderr
    assert taken.returncode == 2 and "never overwrites" in taken.stderr
    assert reversed_range.returncode == 2 and "position 9" in reversed_range.stderr
    assert no_bundle.returncode == 2 and "no such bundle" in no_bundle.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken.tar.gz"]
    assert (tmp_path / "taken.tar.gz").read_text() == "mine"


def test_audit_export_help_teaches_the_bundle_and_its_bounds(cli: Cli) -> None:
    shown = cli.inline()("audit", "export", "--help")

    assert shown.returncode == 0
    for word in (
        "events.jsonl",
        "chain.tsv",
        "verify_bundle.py",
        "trading day",
        "KST",
        "--strategy",
    ):
        assert word in shown.stdout
