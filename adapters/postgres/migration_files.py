"""Migration files on disk: ``NNNN_name.up.sql`` + ``NNNN_name.down.sql`` pairs, validated."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from adapters.postgres.migration_errors import (
    DuplicateMigrationVersionError,
    MalformedMigrationNameError,
    MissingDownMigrationError,
    MissingUpMigrationError,
)

_FILE_NAME = re.compile(
    r"^(?P<version>\d{4})_(?P<name>[a-z0-9]+(?:_[a-z0-9]+)*)\.(?P<step>up|down)\.sql$"
)


@dataclass(frozen=True)
class Migration:
    """One versioned migration; `checksum` is the SHA-256 of its ``.up.sql``."""

    version: int
    name: str
    up_path: Path
    down_path: Path
    checksum: str

    def up_sql(self) -> str:
        return self.up_path.read_text(encoding="utf-8")

    def down_sql(self) -> str:
        return self.down_path.read_text(encoding="utf-8")


def default_directory() -> Path:
    """Return the ``migrations/`` package directory shipped with the project."""
    return Path(str(files("migrations")))


def load_migrations(directory: Path) -> list[Migration]:
    """Return the migrations in `directory`, oldest first.

    Raises:
        MalformedMigrationNameError: a .sql file breaks the ``NNNN_name.(up|down).sql`` pattern.
        MissingDownMigrationError: an .up.sql file has no .down.sql partner.
        MissingUpMigrationError: a .down.sql file has no .up.sql partner.
        DuplicateMigrationVersionError: two migrations share one version number.
    """
    steps: dict[tuple[int, str], dict[str, Path]] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if match is None:
            raise MalformedMigrationNameError(
                f"{path} breaks the file name rule NNNN_name.up.sql / NNNN_name.down.sql "
                "(four digits, lower-case words joined by underscores)"
            )
        key = (int(match["version"]), match["name"])
        steps.setdefault(key, {})[match["step"]] = path
    migrations: dict[int, Migration] = {}
    for (version, name), pair in sorted(steps.items()):
        if "down" not in pair:
            raise MissingDownMigrationError(
                f"{pair['up']} has no {pair['up'].name.replace('.up.sql', '.down.sql')} partner; "
                "every migration needs a down step"
            )
        if "up" not in pair:
            raise MissingUpMigrationError(f"{pair['down']} has no .up.sql partner")
        if version in migrations:
            raise DuplicateMigrationVersionError(
                f"version {version:04d} is used by both {migrations[version].up_path.name} and "
                f"{pair['up'].name}; each version number must be unique"
            )
        checksum = hashlib.sha256(pair["up"].read_bytes()).hexdigest()
        migrations[version] = Migration(version, name, pair["up"], pair["down"], checksum)
    return list(migrations.values())
