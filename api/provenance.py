"""Where an export comes from: the code's version and a hash of the configuration it ran with."""

from __future__ import annotations

import hashlib
import json
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from adapters.audit_bundle.export import Provenance
from api.settings import Settings

REPOSITORY = Path(__file__).resolve().parent.parent


def code_version() -> str:
    """Return the package version, and the git commit when run from a checkout (`+dirty`)."""
    try:
        version = metadata.version("upbit-ledger")
    except metadata.PackageNotFoundError:
        version = "unknown"
    try:
        commit = subprocess.run(
            ["git", "-C", str(REPOSITORY), "describe", "--always", "--dirty", "--abbrev=12"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return version
    return f"{version}+{commit}" if commit else version


def config_sha256(settings: Settings) -> str:
    """Return the sha256 of the configuration as JSON (secrets masked, keys sorted)."""
    body = settings.model_dump(mode="json")
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def provenance(settings: Settings) -> Provenance:
    """Return the provenance of an export made now with `settings`."""
    return Provenance(code_version(), config_sha256(settings), datetime.now(tz=UTC))
