"""Audit bundles on a real PostgreSQL: exported from a verified log, verified with only python3,
and every change to a bundle (a line changed, deleted, inserted, reordered; a chain row; a
file) named by the verifier."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest
from psycopg import sql

from adapters.audit_bundle import verify_bundle as verifier
from adapters.audit_bundle.export import (
    ExportTargetError,
    LogNotChainedError,
    Provenance,
    export_bundle,
    ledger_sealer,
)
from adapters.postgres.chain_reader import ChainReader
from commands.messages import (
    AcceptOrder,
    AllocateCapital,
    PlaceOrder,
    RecordFill,
)
from commands.trading import Trading
from domain.audit.selection import BundleSelection
from domain.events import Cause

BASE = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
PROVENANCE = Provenance("0.1.0+test", "c0ffee" * 10 + "abcd", datetime(2026, 12, 5, tzinfo=UTC))


def cause(minute: int) -> Cause:
    return Cause(BASE + timedelta(minutes=minute), "test", f"cause-{minute}", "flow-1")


@pytest.fixture
def trading(pg_schema) -> Iterator[Trading]:  # type: ignore[no-untyped-def]
    app = Trading({**pg_schema.eventsourcing_env(), "AUDIT_CHECKPOINT_EVERY": "7"})
    yield app
    app.close()


@pytest.fixture
def reader(pg_schema) -> ChainReader:  # type: ignore[no-untyped-def]
    return ChainReader(pg_schema.conninfo, pg_schema.schema)


def record_trades(app: Trading) -> list[str]:
    """Two strategies each place, get accepted and filled; on two trading days."""
    app.allocate_capital(AllocateCapital("vb", "100000000", cause(0)))
    app.allocate_capital(AllocateCapital("grid", "50000000", cause(0)))
    order_ids = []
    for n, (strategy, minute) in enumerate((("vb", 10), ("grid", 20), ("vb", 60 * 24 + 5))):
        order_ids.append(str(trade(app, str(n), strategy, minute, filled_at=minute + 2)))
    return order_ids


def trade(app: Trading, name: str, strategy: str, minute: int, *, filled_at: int) -> UUID:
    """Place order o-NAME (0.01 BTC at 50,000,000 KRW), accept it a minute later, fill it."""
    order_id = app.place_order(
        PlaceOrder(
            f"o-{name}",
            strategy,
            "KRW-BTC",
            "bid",
            "limit",
            cause(minute),
            price_krw="50000000",
            volume_btc="0.01",
        )
    )
    app.accept_order(AcceptOrder(order_id, f"upbit-{name}", cause(minute + 1)))
    app.record_fill(RecordFill(order_id, f"t-{name}", "50000000", "0.01", "250", cause(filled_at)))
    return order_id


def export(
    app: Trading, reader: ChainReader, out: Path, selection: BundleSelection | None = None
) -> Path:
    seal = ledger_sealer(app, PROVENANCE.exported_at)
    return export_bundle(reader, selection or BundleSelection(), out, PROVENANCE, seal).path


def lines(bundle: Path) -> list[str]:
    return (bundle / "events.jsonl").read_text("utf-8").splitlines()


def write_lines(bundle: Path, new: list[str]) -> None:
    (bundle / "events.jsonl").write_text("".join(f"{line}\n" for line in new), "utf-8")


def name_of(line: str) -> str:
    event = json.loads(line)
    return f"{event['topic']} {event['originator_id']} v{event['originator_version']}"


def first_finding(bundle: Path, *heads: tuple[int, str]) -> verifier.Finding:
    (report,) = verifier.verify_all([str(bundle)], list(heads))
    assert not report.intact
    return report.findings[0]


def standalone(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a bundle's verify_bundle.py with python3 alone: isolated, no site-packages."""
    python = shutil.which("python3") or sys.executable
    return subprocess.run(
        [python, "-I", "-S", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin"},
        check=False,
    )


def test_a_bundle_of_the_whole_log_verifies_with_python3_alone_away_from_the_project(
    trading, reader, tmp_path
) -> None:
    # Given a log with orders and fills of two strategies, exported as a directory and a .tar.gz
    record_trades(trading)
    (tmp_path / "out").mkdir()
    bundle = export(trading, reader, tmp_path / "out" / "bundle")
    archive = export(trading, reader, tmp_path / "out" / "bundle.tar.gz")

    # When each is copied to a directory with nothing of the project and verified by its script
    elsewhere = tmp_path / "auditor"
    elsewhere.mkdir()
    shutil.copytree(bundle, elsewhere / "bundle")
    shutil.copy(archive, elsewhere / "bundle.tar.gz")
    shutil.copy(bundle / "verify_bundle.py", elsewhere / "verify_bundle.py")
    on_dir = standalone("verify_bundle.py", "bundle", cwd=elsewhere)
    on_archive = standalone("verify_bundle.py", "bundle.tar.gz", "--json", cwd=elsewhere)

    # Then both are intact, with every event of the log in full, and each ends at its seal
    assert on_dir.returncode == 0, on_dir.stdout + on_dir.stderr
    seal = verifier.read_manifest(str(bundle))["seal"]
    assert "intact" in on_dir.stdout and seal["link"] in on_dir.stdout
    (found,) = json.loads(on_archive.stdout)
    assert on_archive.returncode == 0, on_archive.stderr
    archived = verifier.read_manifest(str(archive))
    assert found["intact"] and found["events"] == archived["chain"]["rows"] == found["chain_rows"]
    assert found["head"] == {k: archived["seal"][k] for k in ("position", "count", "link")}
    assert archived["seal"]["position"] > archived["chain"]["head"]["position"]
    assert found["checkpoints_checked"] >= 2


def test_the_manifest_names_range_counts_clocks_code_and_config(trading, reader, tmp_path) -> None:
    record_trades(trading)

    bundle = export(trading, reader, tmp_path / "bundle")

    manifest = json.loads((bundle / "manifest.json").read_text("utf-8"))
    events = manifest["events"]
    assert manifest["format"] == verifier.BUNDLE_FORMAT
    assert manifest["code_version"] == "0.1.0+test"
    assert manifest["config_sha256"] == PROVENANCE.config_sha256
    assert manifest["exported_at"] == {
        "utc": "2026-12-05T00:00:00+00:00",
        "kst": "2026-12-05T09:00:00+09:00",
    }
    assert events["count"] == len(lines(bundle)) == sum(events["by_topic"].values())
    assert events["by_topic"]["order.filled"] == 3
    assert events["first"]["position"] == 1
    assert events["first"]["occurred_at"] == "2026-03-02T00:00:00+00:00"
    assert events["first"]["occurred_at_kst"] == "2026-03-02T09:00:00+09:00"
    assert set(manifest["files"]) == {
        "events.jsonl",
        "chain.tsv",
        "orders.csv",
        "fills.csv",
        "daily_pnl.csv",
        "verify_bundle.py",
        "README.txt",
    }
    first = json.loads(lines(bundle)[0])
    for key in ("occurred_at", "occurred_at_kst", "actor", "causation_id", "correlation_id"):
        assert first[key]


def test_a_changed_event_line_is_named(trading, reader, tmp_path) -> None:
    # Given a bundle
    record_trades(trading)
    bundle = export(trading, reader, tmp_path / "bundle")
    original = lines(bundle)
    target = next(i for i, line in enumerate(original) if '"order.filled"' in line)

    # When one fill's price is edited in events.jsonl
    changed = list(original)
    changed[target] = original[target].replace('"price_krw":"50000000"', '"price_krw":"49000000"')
    assert changed[target] != original[target]
    write_lines(bundle, changed)

    # Then the verifier names that event, as changed, with python3 alone too
    found = first_finding(bundle)
    assert (found.kind, found.event) == ("changed", name_of(original[target]))
    assert found.position == json.loads(original[target])["position"]
    done = standalone(str(bundle / "verify_bundle.py"), str(bundle), cwd=tmp_path)
    assert done.returncode == 4
    assert f"{name_of(original[target])}: changed" in done.stdout


def test_a_deleted_event_line_is_named(trading, reader, tmp_path) -> None:
    record_trades(trading)
    bundle = export(trading, reader, tmp_path / "bundle")
    original = lines(bundle)

    write_lines(bundle, original[:5] + original[6:])

    found = first_finding(bundle)
    assert (found.kind, found.event) == ("deleted", name_of(original[5]))


def test_an_inserted_event_line_is_named(trading, reader, tmp_path) -> None:
    # Given a bundle, and a forged copy of a fill with a new trade id after the last line
    record_trades(trading)
    bundle = export(trading, reader, tmp_path / "bundle")
    original = lines(bundle)
    fill = json.loads(next(line for line in original if '"order.filled"' in line))
    forged = {**fill, "trade_id": "t-forged", "position": json.loads(original[-1])["position"] + 1}
    line = json.dumps(forged, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    write_lines(bundle, [*original, line])

    found = first_finding(bundle)
    assert (found.kind, found.event, found.position) == (
        "inserted",
        name_of(line),
        forged["position"],
    )


def test_an_event_line_inserted_between_two_is_named(trading, reader, tmp_path) -> None:
    # Given a bundle of every third event (a position filter would not do: select by strategy)
    record_trades(trading)
    bundle = export(
        trading, reader, tmp_path / "bundle", BundleSelection.of(market=None, strategy="vb")
    )
    full = export(trading, reader, tmp_path / "full")
    present = {json.loads(line)["position"] for line in lines(bundle)}
    left_out = next(line for line in lines(full) if json.loads(line)["position"] not in present)

    # When an event the selection left out is put back in its place
    merged = sorted([*lines(bundle), left_out], key=lambda line: json.loads(line)["position"])
    write_lines(bundle, merged)

    # Then it is named as inserted: the chain holds it as not exported
    found = first_finding(bundle)
    assert (found.kind, found.event) == ("inserted", name_of(left_out))


def test_two_swapped_event_lines_are_named_as_reordered(trading, reader, tmp_path) -> None:
    record_trades(trading)
    bundle = export(trading, reader, tmp_path / "bundle")
    original = lines(bundle)
    swapped = list(original)
    swapped[3], swapped[4] = original[4], original[3]

    write_lines(bundle, swapped)

    found = first_finding(bundle)
    assert found.kind == "reordered"
    assert found.event == name_of(original[4])
    assert found.position == json.loads(original[4])["position"]


def test_an_altered_digest_of_a_left_out_event_is_named_at_its_chain_row(
    trading, reader, tmp_path
) -> None:
    # Given a bundle of one strategy, whose chain.tsv proves the other strategy's events
    record_trades(trading)
    bundle = export(trading, reader, tmp_path / "bundle", BundleSelection.of(strategy="grid"))
    rows = (bundle / "chain.tsv").read_text("utf-8").splitlines()
    index = next(i for i, row in enumerate(rows) if row.split("\t")[4:5] == ["-"])
    cells = rows[index].split("\t")

    # When the digest of a left-out event is replaced
    cells[2] = "0" * 64
    rows[index] = "\t".join(cells)
    (bundle / "chain.tsv").write_text("\n".join(rows) + "\n", "utf-8")

    # Then the first finding is that row: its link no longer follows
    found = first_finding(bundle)
    assert (found.kind, found.position) == ("chain_altered", int(cells[0]))


def test_a_changed_csv_is_named_by_its_file(trading, reader, tmp_path) -> None:
    record_trades(trading)
    bundle = export(trading, reader, tmp_path / "bundle")

    with (bundle / "fills.csv").open("a", encoding="utf-8") as file:
        file.write("forged,row\n")

    found = first_finding(bundle)
    assert (found.kind, found.event) == ("changed", "fills.csv")


def test_a_changed_byte_in_an_archived_bundle_is_named(trading, reader, tmp_path) -> None:
    # Given a .tar.gz bundle, unpacked, one event line edited, and packed again
    record_trades(trading)
    archive = export(trading, reader, tmp_path / "bundle.tar.gz")
    unpacked = tmp_path / "unpacked"
    with tarfile.open(archive) as tar:
        tar.extractall(unpacked, filter="data")
    (root,) = unpacked.iterdir()
    original = lines(root)
    write_lines(root, [original[0].replace('"actor":"test"', '"actor":"tset"'), *original[1:]])
    repacked = tmp_path / "repacked.tar.gz"
    with tarfile.open(repacked, "w:gz") as tar:
        tar.add(root, arcname=root.name)

    found = first_finding(repacked)

    assert (found.kind, found.event, found.position) == ("changed", name_of(original[0]), 1)


def test_a_sub_range_proves_its_place_in_the_full_chain(trading, reader, tmp_path) -> None:
    # Given a full bundle, and a bundle of positions 5..12 of the same log
    record_trades(trading)
    full = export(trading, reader, tmp_path / "full")
    part = export(trading, reader, tmp_path / "part", BundleSelection.of(5, 12))
    head = json.loads((full / "manifest.json").read_text("utf-8"))["chain"]["head"]

    # Then the part holds those events in full, every event's digest, and verifies on its own,
    # beside the full bundle and against the full bundle's head
    assert [json.loads(line)["position"] for line in lines(part)] == list(range(5, 13))
    reports = verifier.verify_all(
        [str(part), str(full)], [(int(head["position"]), str(head["link"]))]
    )
    assert all(r.intact for r in reports), [r.findings[:1] for r in reports]
    part_head = verifier.read_manifest(str(part))["chain"]["head"]
    assert reports[0].chain_rows == part_head["count"] > reports[1].chain_rows == head["count"]

    # And a head of another chain is refused, naming where it is not on the chain
    found = first_finding(part, (3, "ab" * 32))
    assert (found.kind, found.position) == ("other_chain", 3)


def test_a_later_bundle_proves_an_earlier_bundle_s_head(trading, reader, tmp_path) -> None:
    # Given a bundle, then more events, then a second bundle
    record_trades(trading)
    earlier = export(trading, reader, tmp_path / "earlier")
    trading.allocate_capital(AllocateCapital("turtle", "1000000", cause(5000)))
    later = export(
        trading,
        reader,
        tmp_path / "later",
        BundleSelection.of(start=datetime(2026, 3, 5, tzinfo=UTC)),
    )

    # Then the later one (only the new events in full) proves the earlier head is on its chain
    topics = [json.loads(line)["topic"] for line in lines(later)]
    assert [t for t in topics if t != "audit.chain.checkpointed"][:2] == [
        "audit.bundle.sealed",  # the earlier export's seal
        "ledger.capital.allocated",
    ]
    assert all(json.loads(line)["occurred_at"] >= "2026-03-05" for line in lines(later))
    reports = verifier.verify_all([str(earlier), str(later)], [])
    assert all(r.intact for r in reports)

    # And when the earlier bundle's head is forged, the later bundle says it is not on its chain
    manifest = json.loads((earlier / "manifest.json").read_text("utf-8"))
    manifest["seal"]["link"] = "cd" * 32
    (earlier / "manifest.json").write_text(json.dumps(manifest), "utf-8")
    (report_earlier, report_later) = verifier.verify_all([str(earlier), str(later)], [])
    assert not report_earlier.intact
    assert report_later.findings[0].kind == "other_chain"


def test_a_strategy_bundle_holds_its_orders_fills_and_account_wide_events(
    trading, reader, tmp_path
) -> None:
    order_ids = record_trades(trading)

    bundle = export(trading, reader, tmp_path / "grid", BundleSelection.of(strategy="grid"))

    events = [json.loads(line) for line in lines(bundle)]
    orders = {e["originator_id"] for e in events if e["topic"].startswith("order.")}
    assert orders == {order_ids[1]}
    assert {e["topic"] for e in events if e["originator_id"] == order_ids[1]} >= {
        "order.placed",
        "order.accepted",
        "order.filled",
    }
    assert all(e.get("strategy_id", "grid") == "grid" for e in events)
    assert any(e["topic"] == "audit.chain.checkpointed" for e in events)
    assert verifier.verify_all([str(bundle)], [])[0].intact


def test_an_export_of_a_log_that_does_not_match_its_chain_is_refused_and_leaves_nothing(
    trading, reader, pg_schema, tmp_path
) -> None:
    # Given a log whose allocation was edited in the database
    record_trades(trading)
    with psycopg.connect(pg_schema.conninfo) as conn:
        conn.execute(
            sql.SQL(
                "UPDATE {} SET state = convert_to(replace(convert_from(state, 'UTF8'), "
                "'50000000', '90000000'), 'UTF8') WHERE topic = 'ledger.capital.allocated'"
            ).format(sql.Identifier(pg_schema.schema, "ledger_events"))
        )

    # When it is exported
    with pytest.raises(LogNotChainedError, match="ledger.capital.allocated .*: changed"):
        export(trading, reader, tmp_path / "bundle.tar.gz")

    # Then nothing was written
    assert list(tmp_path.iterdir()) == []


def test_an_export_never_overwrites(trading, reader, tmp_path) -> None:
    record_trades(trading)
    (tmp_path / "taken.tar.gz").write_text("mine")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")

    with pytest.raises(ExportTargetError, match="never overwrites"):
        export(trading, reader, tmp_path / "taken.tar.gz")
    with pytest.raises(ExportTargetError, match="not empty"):
        export(trading, reader, tmp_path / "full")

    assert (tmp_path / "taken.tar.gz").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full", "taken.tar.gz"]


def test_a_fill_in_the_range_of_an_order_placed_before_it_keeps_the_order_s_terms(
    trading, reader, tmp_path
) -> None:
    # Given an order placed on one trading day and filled on the next
    trading.allocate_capital(AllocateCapital("vb", "100000000", cause(0)))
    trade(trading, "early", "vb", 10, filled_at=60 * 24 + 1)

    # When only the second day is exported
    bundle = export(
        trading, reader, tmp_path / "day", BundleSelection.of(datetime(2026, 3, 3, tzinfo=UTC))
    )

    # Then its fill row names the order's strategy, market and side, from the order's terms
    fills = (bundle / "fills.csv").read_text("utf-8").splitlines()
    header, (row,) = fills[0].split(","), fills[1:]
    cells = dict(zip(header, row.split(","), strict=True))
    assert (cells["client_order_id"], cells["strategy_id"], cells["side"]) == (
        "o-early",
        "vb",
        "bid",
    )
    assert cells["trade_id"] == "t-early" and cells["trading_day"] == "2026-03-03"


def read_json(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text("utf-8")))


def write_json(path: Path, body: dict[str, Any]) -> None:
    path.write_text(json.dumps(body, indent=2, ensure_ascii=False), "utf-8")


def refresh_files(bundle: Path, manifest: dict[str, Any]) -> None:
    """Recompute every listed file's sha256 and size, as someone editing the bundle could."""
    for name in manifest["files"]:
        data = (bundle / name).read_bytes()
        manifest["files"][name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}


def findings(bundle: Path, *heads: tuple[int, str]) -> list[tuple[str, int]]:
    (report,) = verifier.verify_all([str(bundle)], list(heads))
    return [(f.kind, f.position) for f in report.findings]


def hide_event(bundle: Path, topic: str) -> int:
    """Take an event's line out of events.jsonl, mark its chain row as not exported, and
    recompute the manifest's counts and file digests; return the event's position."""
    original = lines(bundle)
    hidden = next(line for line in original if f'"topic":"{topic}"' in line)
    position = int(json.loads(hidden)["position"])
    write_lines(bundle, [line for line in original if line != hidden])
    chain = (bundle / "chain.tsv").read_text("utf-8").splitlines()
    for n, row in enumerate(chain):
        cells = row.split("\t")
        if cells[0] == str(position):
            chain[n] = "\t".join([*cells[:4], "-", ""])
    (bundle / "chain.tsv").write_text("".join(f"{row}\n" for row in chain), "utf-8")
    manifest = read_json(bundle / "manifest.json")
    manifest["events"]["count"] -= 1
    manifest["events"]["by_topic"][topic] -= 1
    refresh_files(bundle, manifest)
    write_json(bundle / "manifest.json", manifest)
    return position


def test_an_event_hidden_from_a_bundle_of_everything_is_named_as_left_out(
    trading, reader, tmp_path
) -> None:
    # Given a bundle of the whole log, one of whose events is hidden: its line taken out, its
    # row marked as not exported, the manifest's counts and file digests recomputed
    record_trades(trading)
    bundle = export(trading, reader, tmp_path / "bundle")
    position = hide_event(bundle, "order.filled")

    # When it is verified
    found = findings(bundle)

    # Then the hidden event is named as left out, and the manifest as not the one sealed
    assert found[0] == ("left_out", position)
    assert ("manifest_altered", read_json(bundle / "manifest.json")["seal"]["position"]) in found


def test_a_manifest_resealed_by_a_forger_is_named_against_the_kept_head(
    trading, reader, tmp_path
) -> None:
    # Given a bundle whose head (its seal) an auditor keeps
    record_trades(trading)
    bundle = export(trading, reader, tmp_path / "bundle")
    kept = read_json(bundle / "manifest.json")["seal"]
    # And its code version is edited, and the seal event rewritten to seal the edited
    # manifest, its row and the manifest's seal relinked (all a forger can recompute)
    manifest = read_json(bundle / "manifest.json")
    manifest["code_version"] = "0.0.9+someone-else"
    seal_line = json.loads((bundle / "seal.jsonl").read_text("utf-8"))
    seal_line["manifest_sha256"] = verifier.manifest_sha256(manifest)
    text = json.dumps(seal_line, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    (bundle / "seal.jsonl").write_text(text + "\n", "utf-8")
    rows = (bundle / "seal.tsv").read_text("utf-8").splitlines()
    link = manifest["chain"]["head"]["link"]
    for n, row in enumerate(rows):
        if row.startswith("#"):
            continue
        cells = row.split("\t")
        digest = cells[2] if cells[4] == "-" else verifier.event_digest(text)
        link = verifier.link_after(link, digest)
        rows[n] = "\t".join([cells[0], cells[1], digest, link, *cells[4:]])
    (bundle / "seal.tsv").write_text("".join(f"{row}\n" for row in rows), "utf-8")
    manifest["seal"]["link"] = link
    write_json(bundle / "manifest.json", manifest)

    # When it is verified alone, and against the head the auditor kept
    alone = findings(bundle)
    against_kept = findings(bundle, (kept["position"], kept["link"]))

    # Then alone it is consistent (a hash chain is no signature); the kept head names it
    assert alone == []
    assert against_kept == [("other_chain", kept["position"])]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("selection", {"strategy": "vb"}),
        ("code_version", "0.0.9+someone-else"),
        ("config_sha256", "0" * 64),
        ("events", {"count": 1}),
    ],
)
def test_an_edited_manifest_is_named_as_not_the_one_sealed(
    trading, reader, tmp_path, key: str, value: Any
) -> None:
    # Given a bundle whose manifest is then edited
    record_trades(trading)
    bundle = export(trading, reader, tmp_path / "bundle")
    manifest = read_json(bundle / "manifest.json")
    manifest[key] = {**manifest[key], **value} if isinstance(value, dict) else value
    write_json(bundle / "manifest.json", manifest)

    # When it is verified
    found = findings(bundle)

    # Then the manifest is named as not the one the export sealed in the log
    assert ("manifest_altered", manifest["seal"]["position"]) in found


def test_a_line_outside_the_bundle_s_selection_is_named(trading, reader, tmp_path) -> None:
    # Given a bundle of one strategy, into which a left-out event of another one is put back
    # (its row marked as exported, the file digests recomputed)
    record_trades(trading)
    full = lines(export(trading, reader, tmp_path / "full"))
    bundle = export(trading, reader, tmp_path / "grid", BundleSelection.of(strategy="grid"))
    put_back = next(line for line in full if '"strategy_id":"vb"' in line)
    position = int(json.loads(put_back)["position"])
    kept = [line for line in lines(bundle) if json.loads(line)["position"] < position]
    rest = [line for line in lines(bundle) if json.loads(line)["position"] > position]
    write_lines(bundle, [*kept, put_back, *rest])
    chain = (bundle / "chain.tsv").read_text("utf-8").splitlines()
    chain = [
        "\t".join([*r.split("\t")[:4], "e", name_of(put_back)])
        if r.split("\t")[0] == str(position)
        else r
        for r in chain
    ]
    (bundle / "chain.tsv").write_text("".join(f"{row}\n" for row in chain), "utf-8")
    manifest = read_json(bundle / "manifest.json")
    refresh_files(bundle, manifest)
    write_json(bundle / "manifest.json", manifest)

    # When it is verified
    found = findings(bundle)

    # Then the line is named as outside the selection
    assert ("selection_mismatch", position) in found
