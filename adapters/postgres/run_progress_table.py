"""Each trading run's progress: the last candle it processed and its state there, one row a run.

A run's candle is one transaction (`commands/processes/trading_loop.py`): the candle's events,
the run's log position at that candle and the run's state after it are written together by the
log's recorder, so a restart resumes exactly after the last candle whose events the log holds.
The table lives beside the log's events (`ledger_run_progress`), created with them.
"""

from __future__ import annotations

from typing import Any

from psycopg.sql import SQL, Composed, Identifier

from commands.run_progress import RunProgress


def run_progress_table_name(events_table_name: str) -> str:
    """Return the name of the runs' progress table beside the log's events table."""
    return events_table_name.removesuffix("_events") + "_run_progress"


def create_run_progress_table(schema: str, events_table_name: str) -> list[Composed]:
    """Return the statement that creates the progress table when it does not exist."""
    table = Identifier(schema, run_progress_table_name(events_table_name))
    return [
        SQL(
            "CREATE TABLE IF NOT EXISTS {table} ("
            "run_id text PRIMARY KEY, "
            "position bigint NOT NULL, "
            "candles bigint NOT NULL, "
            "state bytea NOT NULL)"
        ).format(table=table)
    ]


class RunProgressTable:
    """Writes a run's progress within a save's transaction, and reads it back."""

    def __init__(self, schema: str, events_table_name: str) -> None:
        table = Identifier(schema, run_progress_table_name(events_table_name))
        self._upsert = SQL(
            "INSERT INTO {table} (run_id, position, candles, state) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (run_id) DO UPDATE SET position = EXCLUDED.position, "
            "candles = EXCLUDED.candles, state = EXCLUDED.state"
        ).format(table=table)
        self._select = SQL(
            "SELECT run_id, position, candles, state FROM {table} WHERE run_id = %s"
        ).format(table=table)

    def write(self, curs: Any, progress: RunProgress) -> None:
        """Write the run's progress on the save's cursor (its transaction)."""
        curs.execute(
            self._upsert, [progress.run_id, progress.position, progress.candles, progress.state]
        )

    def read(self, curs: Any, run_id: str) -> RunProgress | None:
        """Return the run's last written progress, or None before its first candle."""
        curs.execute(self._select, [run_id])
        row = curs.fetchone()
        if row is None:
            return None
        values = list(row.values()) if isinstance(row, dict) else list(row)
        return RunProgress(str(values[0]), int(values[1]), int(values[2]), bytes(values[3]))
