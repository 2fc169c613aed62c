"""Files a command writes (`--json`, `--report`, `--out`): checked before the command runs.

A target that is a directory, sits under something that is not a directory, or cannot be
created is refused naming the flag and the path, before anything is computed or recorded.
"""

from __future__ import annotations

import os
from pathlib import Path


class OutputFileError(Exception):
    """A file a command was told to write cannot be written there (exit code 2)."""


def check_output_file(path: Path, flag: str) -> None:
    """Refuse a file target that is a directory or cannot be written; write nothing.

    Raises:
        OutputFileError: naming the flag, the path and the rule.
    """
    if path.is_dir():
        raise OutputFileError(f"{flag} {path} is a directory: name a file to write")
    check_writable_parent(path, flag)
    if path.exists() and not os.access(path, os.W_OK):
        raise OutputFileError(f"{flag} {path} cannot be written: permission denied")


def check_writable_parent(path: Path, flag: str) -> None:
    """Refuse a target whose parent is not a directory this process can create files in.

    The check creates and removes one empty probe file beside the target (a permission
    check alone says yes to root on read-only file systems).

    Raises:
        OutputFileError: naming the flag, the path and the rule.
    """
    parent = path.parent
    if not parent.is_dir():
        what = "does not exist" if not parent.exists() else "is not a directory"
        raise OutputFileError(f"{flag} {path} cannot be written: {parent} {what}")
    probe = parent / f".{path.name}.ledger-probe-{os.getpid()}"
    try:
        probe.touch(exist_ok=False)
        probe.unlink()
    except OSError as error:
        raise OutputFileError(
            f"{flag} {path} cannot be written: {error.strerror or error} in {parent}"
        ) from None


def write_output_file(path: Path, text: str, flag: str) -> None:
    """Write `text` to the checked target.

    Raises:
        OutputFileError: the write failed after the check (the disk filled, the place changed).
    """
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as error:
        raise OutputFileError(
            f"{flag} {path} cannot be written: {error.strerror or error}"
        ) from None
