"""The `candles` table: a read model of the recorded candles for range queries (0001)."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import sql

from adapters.postgres.event_store import EventStoreUnavailableError

CandleRecord = tuple[
    datetime | str,
    Decimal | str,
    Decimal | str,
    Decimal | str,
    Decimal | str,
    Decimal | str,
    Decimal | str,
    bool,
]
"""open_time (UTC), open, high, low, close, volume_btc, value_krw, is_synthetic; numbers and
times may be given as the text the source wrote (PostgreSQL parses them exactly)."""


class CandleTable:
    """Writes and reads the candles of the configured schema."""

    def __init__(self, conninfo: str, schema: str) -> None:
        self.conninfo = conninfo
        self.table = sql.Identifier(schema, "candles")

    def write_text(self, market: str, source: str, rows: Iterable[str]) -> int:
        """Add candles given as CSV text rows `ts_utc,o,h,l,c,v[,value]`; see `write`."""
        return self._write(market, source, rows, text=True)

    def write(self, market: str, source: str, records: Iterable[CandleRecord]) -> int:
        """Add candles not yet in the table (one transaction); return how many were added."""
        return self._write(market, source, records, text=False)

    def stage_new_text(self, market: str, source: str, rows: Sequence[str]) -> StagedCandles:
        """Start writing new candles in a transaction left open; commit or roll it back later.

        Lets the table's COPY run while the events are being recorded, and still leave the
        table untouched when the import is refused.
        """
        staged = StagedCandles(self, market, source, rows)
        staged.start()
        return staged

    def write_new_text(self, market: str, source: str, rows: Sequence[str]) -> int:
        """Add candles that are all new, straight into the table; fall back to `write_text`.

        The fast path of a first import: one COPY, no staging; a minute already in the table
        makes it roll back and take the checked path.
        """
        payload = "".join(f"{market},{_with_value(line)},false,{source}\n" for line in rows)
        try:
            with psycopg.connect(self.conninfo) as conn, conn.transaction():
                with conn.cursor().copy(
                    sql.SQL(
                        "COPY {} (market, open_time, open, high, low, close, volume_btc, "
                        "value_krw, is_synthetic, source) FROM STDIN (FORMAT csv)"
                    ).format(self.table)
                ) as copy:
                    copy.write(payload)
                return len(rows)
        except psycopg.errors.UniqueViolation:
            return self.write_text(market, source, rows)
        except psycopg.OperationalError as error:
            raise EventStoreUnavailableError(f"PostgreSQL is not reachable: {error}") from None

    def _write(self, market: str, source: str, records: Iterable[Any], *, text: bool) -> int:
        try:
            with psycopg.connect(self.conninfo) as conn, conn.transaction():
                conn.execute(
                    "CREATE TEMP TABLE incoming (open_time timestamptz, open numeric, "
                    "high numeric, low numeric, close numeric, volume_btc numeric, "
                    "value_krw numeric, is_synthetic boolean DEFAULT false) ON COMMIT DROP"
                )
                columns = "open_time, open, high, low, close, volume_btc, value_krw"
                if text:  # the file's own text, straight into COPY's CSV format
                    with conn.cursor().copy(
                        f"COPY incoming ({columns}) FROM STDIN (FORMAT csv)"
                    ) as copy:
                        copy.write("\n".join(_with_value(line) for line in records) + "\n")
                else:
                    with conn.cursor().copy(
                        f"COPY incoming ({columns}, is_synthetic) FROM STDIN"
                    ) as copy:
                        for record in records:
                            copy.write_row(record)
                inserted = conn.execute(
                    sql.SQL(
                        "INSERT INTO {} (market, open_time, open, high, low, close, volume_btc, "
                        "value_krw, is_synthetic, source) SELECT %s, open_time, open, high, low, "
                        "close, volume_btc, value_krw, is_synthetic, %s FROM incoming "
                        "ON CONFLICT DO NOTHING"
                    ).format(self.table),
                    (market, source),
                )
                return inserted.rowcount
        except psycopg.OperationalError as error:
            raise EventStoreUnavailableError(f"PostgreSQL is not reachable: {error}") from None


def _with_value(line: str) -> str:
    line = line.strip()
    return line if line.count(",") == 6 else line + ",0"


class StagedCandles(threading.Thread):
    """A COPY of new candles running in its own thread and transaction, awaiting a verdict."""

    def __init__(self, table: CandleTable, market: str, source: str, rows: Sequence[str]) -> None:
        super().__init__(name="candle-table-copy", daemon=True)
        self.table, self.market, self.source, self.rows = table, market, source, rows
        self._verdict = threading.Event()
        self._commit = False
        self.added = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with psycopg.connect(self.table.conninfo) as conn, conn.transaction():
                try:
                    with conn.transaction():  # a savepoint: duplicates take the slow path
                        payload = "".join(
                            f"{self.market},{_with_value(line)},false,{self.source}\n"
                            for line in self.rows
                        )
                        with conn.cursor().copy(
                            sql.SQL(
                                "COPY {} (market, open_time, open, high, low, close, "
                                "volume_btc, value_krw, is_synthetic, source) FROM STDIN "
                                "(FORMAT csv)"
                            ).format(self.table.table)
                        ) as copy:
                            copy.write(payload)
                        self.added = len(self.rows)
                except psycopg.errors.UniqueViolation:
                    self.added = -1  # some exist: written after the verdict, checked
                self._verdict.wait()
                if not self._commit:
                    raise _RolledBack
        except _RolledBack:
            return
        except BaseException as error:  # noqa: BLE001 - handed to the caller in finish()
            self.error = error

    def finish(self, *, commit: bool) -> int:
        """Commit (or roll back) the staged rows; return how many were added."""
        self._commit = commit
        self._verdict.set()
        self.join()
        if self.error is not None:
            if isinstance(self.error, psycopg.OperationalError):
                raise EventStoreUnavailableError(f"PostgreSQL is not reachable: {self.error}")
            raise self.error
        if commit and self.added < 0:
            return self.table.write_text(self.market, self.source, self.rows)
        return max(self.added, 0) if commit else 0


class _RolledBack(Exception):
    """Raised inside the staging transaction to roll it back."""
