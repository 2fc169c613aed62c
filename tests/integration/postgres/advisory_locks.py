"""End the server session that holds an advisory lock, as a crashed process's would end."""

from __future__ import annotations

import psycopg


def end_sessions_holding(conninfo: str, key: int) -> int:
    """Terminate every session holding the advisory lock `key`; return how many there were."""
    unsigned = key & 0xFFFF_FFFF_FFFF_FFFF  # pg_locks shows the key as two unsigned halves
    with psycopg.connect(conninfo, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pid, classid::bigint, objid::bigint FROM pg_locks "
            "WHERE locktype = 'advisory' AND granted"
        ).fetchall()
        pids = [pid for pid, high, low in rows if (high << 32 | low) == unsigned]
        for pid in pids:
            admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    return len(pids)
