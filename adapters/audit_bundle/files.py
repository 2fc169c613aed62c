"""The files of an audit bundle as they are written: each one's sha256 and size, for the manifest.

Lines are gathered and written in blocks (one encode, one hash update and one write per block),
so a million-event bundle costs little more than its bytes.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

BLOCK_LINES = 2000


class HashedFile:
    """A text file written in blocks of lines, hashed as it is written."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle = path.open("wb")
        self._sha256 = hashlib.sha256()
        self._pending: list[str] = []
        self.size = 0

    def line(self, text: str) -> None:
        """Add one line (without its newline)."""
        self._pending.append(text)
        if len(self._pending) >= BLOCK_LINES:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        block = ("\n".join(self._pending) + "\n").encode("utf-8")
        self._pending.clear()
        self._sha256.update(block)
        self._handle.write(block)
        self.size += len(block)

    def close(self) -> dict[str, Any]:
        """Write what is pending, close, and return the file's manifest entry."""
        self._flush()
        self._handle.close()
        return {"sha256": self._sha256.hexdigest(), "bytes": self.size}

    def discard(self) -> None:
        """Close without writing what is pending (the export failed; the file goes with it)."""
        self._pending.clear()
        if not self._handle.closed:
            self._handle.close()


class BundleFiles:
    """The directory a bundle is written into, and the manifest entries of its files."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.entries: dict[str, dict[str, Any]] = {}

    def open(self, name: str) -> HashedFile:
        """Return a new file of the bundle, to be closed with `close`."""
        return HashedFile(self.directory / name)

    def close(self, name: str, file: HashedFile) -> None:
        """Close a file and record its manifest entry."""
        self.entries[name] = file.close()

    def text(self, name: str, text: str) -> None:
        """Write a whole text file."""
        file = self.open(name)
        for line in text.splitlines():
            file.line(line)
        self.close(name, file)

    def csv(self, name: str, header: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
        """Write a CSV file (RFC 4180 quoting, UTF-8, newline line ends)."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
        data = buffer.getvalue().encode("utf-8")
        (self.directory / name).write_bytes(data)
        self.entries[name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}

    def copy(self, name: str, source: Path) -> None:
        """Copy a file into the bundle."""
        shutil.copyfile(source, self.directory / name)
        data = (self.directory / name).read_bytes()
        self.entries[name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}

    def manifest(self, body: dict[str, Any]) -> None:
        """Write manifest.json: `body` with the files' entries (the manifest lists not itself)."""
        body = {**body, "files": dict(sorted(self.entries.items()))}
        text = json.dumps(body, indent=2, ensure_ascii=False, sort_keys=False) + "\n"
        (self.directory / "manifest.json").write_text(text, encoding="utf-8")
