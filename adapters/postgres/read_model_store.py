"""The read models in PostgreSQL: row operations, tracking and parked events, per transaction.

A projector opens one `ReadModelTransaction` per batch: it locks its tracking row, applies the
batch's row operations in order (runs of inserts of one shape go as one `executemany`), moves
its tracking position, and commits (guide §5.3). Table names can be mapped, so a rebuild writes
the same rows into shadow tables beside the live ones.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql

from projections.rows import (
    Insert,
    RollUpCandles,
    RowOp,
    Update,
    Upsert,
    WriteCandleMinutes,
)


class ProjectionRowError(Exception):
    """A row operation did not find the row it must change (the read model is inconsistent)."""


class ReadModelStore:
    """Connections to the read-model schema."""

    def __init__(self, conninfo: str, schema: str) -> None:
        self.conninfo, self.schema = conninfo, schema

    def connect(self) -> psycopg.Connection[tuple[Any, ...]]:
        """Return a connection whose search path is the read-model schema."""
        connection = psycopg.connect(self.conninfo, autocommit=False)
        connection.execute(
            sql.SQL("SET search_path TO {}, public").format(sql.Identifier(self.schema))
        )
        connection.commit()
        return connection

    @contextmanager
    def transaction(
        self,
        connection: psycopg.Connection[tuple[Any, ...]],
        tables: Mapping[str, str] | None = None,
    ) -> Iterator[ReadModelTransaction]:
        """Run one transaction on `connection`; commit on success, roll back on error."""
        with connection.transaction(), connection.cursor() as cursor:
            yield ReadModelTransaction(cursor, tables or {})


class ReadModelTransaction:
    """Row operations, tracking and parking inside one transaction."""

    def __init__(self, cursor: psycopg.Cursor[tuple[Any, ...]], tables: Mapping[str, str]) -> None:
        self.cursor = cursor
        self.tables = tables

    # Tracking.
    def lock_position(self, projection: str) -> int:
        """Return the projection's last applied position, locking its row (created at 0)."""
        return self.lock_tracking(projection)[0]

    def lock_tracking(self, projection: str) -> tuple[int, tuple[int, str, str] | None]:
        """Return the projection's last applied position and its parked event, locking its row.

        The parked event is (position, bus name, error), or None. The tracking row is created
        at 0 when missing; once it exists (after the first batch) this is one statement.
        """
        for _ in range(2):
            self.cursor.execute(
                "SELECT t.last_position, p.position, p.bus_name, p.error "
                "FROM projection_tracking t LEFT JOIN projection_parked p USING (projection) "
                "WHERE t.projection = %s FOR UPDATE OF t",
                (projection,),
            )
            row = self.cursor.fetchone()
            if row is not None:
                parked = None if row[1] is None else (int(row[1]), str(row[2]), str(row[3]))
                return int(row[0]), parked
            self.cursor.execute(
                "INSERT INTO projection_tracking (projection, last_position) VALUES (%s, 0) "
                "ON CONFLICT (projection) DO NOTHING",
                (projection,),
            )
        raise AssertionError(f"the tracking row of {projection} vanished as it was created")

    def set_position(self, projection: str, position: int) -> None:
        """Record that the projection has applied every event up to `position`."""
        self.cursor.execute(
            "UPDATE projection_tracking SET last_position = %s, updated_at = now() "
            "WHERE projection = %s",
            (position, projection),
        )

    def park(self, projection: str, position: int, bus_name: str, error: str) -> None:
        """Record the event the projection stopped at, and why."""
        self.cursor.execute(
            "INSERT INTO projection_parked (projection, position, bus_name, error) "
            "VALUES (%s, %s, %s, %s) ON CONFLICT (projection) DO UPDATE SET "
            "position = EXCLUDED.position, bus_name = EXCLUDED.bus_name, "
            "error = EXCLUDED.error, parked_at = now()",
            (projection, position, bus_name, error),
        )

    # Row operations.
    def apply(self, ops: Sequence[RowOp]) -> None:
        """Run `ops` in order; a run of inserts goes as one `executemany` per table and shape.

        Rows of different tables do not depend on each other; any other operation ends a run.
        """
        index = 0
        while index < len(ops):
            op = ops[index]
            if isinstance(op, Insert):
                end = index
                while end < len(ops) and isinstance(ops[end], Insert):
                    end += 1
                self._insert_run(ops[index:end])  # type: ignore[arg-type]
                index = end
                continue
            if isinstance(op, Update):
                self._update(op)
            elif isinstance(op, Upsert):
                self._upsert(op)
            elif isinstance(op, WriteCandleMinutes):
                self._write_minutes(op)
            else:
                self._roll_up(op)
            index += 1

    def _insert_run(self, run: Sequence[Insert]) -> None:
        groups: dict[tuple[str, tuple[str, ...]], list[Insert]] = {}
        for op in run:
            groups.setdefault((op.table, tuple(op.values)), []).append(op)
        for group in groups.values():
            self._insert(group)

    def _name(self, table: str) -> sql.Identifier:
        return sql.Identifier(self.tables.get(table, table))

    def _insert(self, run: list[Insert]) -> None:
        columns = list(run[0].values)
        statement = sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
            self._name(run[0].table),
            sql.SQL(", ").join(map(sql.Identifier, columns)),
            sql.SQL(", ").join(sql.Placeholder() * len(columns)),
        )
        rows = [tuple(op.values[c] for c in columns) for op in run]
        if len(rows) == 1:
            self.cursor.execute(statement, rows[0])
        else:
            self.cursor.executemany(statement, rows)

    def _update(self, op: Update) -> None:
        assignments = [sql.SQL("{} = %s").format(sql.Identifier(c)) for c in op.values] + [
            sql.SQL("{0} = {0} + %s").format(sql.Identifier(c)) for c in op.add
        ]
        condition = sql.SQL(" AND ").join(
            sql.SQL("{} = %s").format(sql.Identifier(c)) for c in op.key
        )
        statement = sql.SQL("UPDATE {} SET {} WHERE {}").format(
            self._name(op.table), sql.SQL(", ").join(assignments), condition
        )
        self.cursor.execute(statement, (*op.values.values(), *op.add.values(), *op.key.values()))
        if self.cursor.rowcount != 1:
            raise ProjectionRowError(
                f"{op.table}: no row has {dict(op.key)} to update ({self.cursor.rowcount} found)"
            )

    def _upsert(self, op: Upsert) -> None:
        columns = [*op.key, *op.values, *op.add]
        table = self._name(op.table)
        changes = [sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c)) for c in op.values] + [
            sql.SQL("{0} = {1}.{0} + EXCLUDED.{0}").format(sql.Identifier(c), table) for c in op.add
        ]
        on_conflict = (
            sql.SQL("DO UPDATE SET {}").format(sql.SQL(", ").join(changes))
            if changes
            else sql.SQL("DO NOTHING")
        )
        statement = sql.SQL("INSERT INTO {} ({}) VALUES ({}) ON CONFLICT ({}) {}").format(
            table,
            sql.SQL(", ").join(map(sql.Identifier, columns)),
            sql.SQL(", ").join(sql.Placeholder() * len(columns)),
            sql.SQL(", ").join(map(sql.Identifier, op.key)),
            on_conflict,
        )
        self.cursor.execute(statement, (*op.key.values(), *op.values.values(), *op.add.values()))

    def _write_minutes(self, op: WriteCandleMinutes) -> None:
        on_conflict = (
            sql.SQL(
                "ON CONFLICT (market, open_time) DO UPDATE SET open = EXCLUDED.open, "
                "high = EXCLUDED.high, low = EXCLUDED.low, close = EXCLUDED.close, "
                "volume_btc = EXCLUDED.volume_btc, value_krw = EXCLUDED.value_krw, "
                "is_synthetic = EXCLUDED.is_synthetic"
            )
            if op.replace
            else sql.SQL("")
        )
        statement = sql.SQL(
            "INSERT INTO {minutes} (market, open_time, open, high, low, close, volume_btc, "
            "value_krw, is_synthetic) "
            "SELECT h.market, h.hour_start + make_interval(mins => m.minute), m.open, m.high, "
            "m.low, m.close, m.volume_btc, m.value_krw, m.is_synthetic "
            "FROM {hours} h, unnest(%s::int[], %s::numeric[], %s::numeric[], %s::numeric[], "
            "%s::numeric[], %s::numeric[], %s::numeric[], %s::boolean[]) "
            "AS m(minute, open, high, low, close, volume_btc, value_krw, is_synthetic) "
            "WHERE h.hour_id = %s {on_conflict}"
        ).format(
            minutes=self._name("rm_candles_1m"),
            hours=self._name("rm_candle_hours"),
            on_conflict=on_conflict,
        )
        columns = list(
            zip(
                *(
                    (
                        m.minute,
                        m.open,
                        m.high,
                        m.low,
                        m.close,
                        m.volume_btc,
                        m.value_krw,
                        m.is_synthetic,
                    )
                    for m in op.minutes
                ),
                strict=True,
            )
        )
        self.cursor.execute(statement, (*[list(c) for c in columns], op.hour_id))
        if self.cursor.rowcount != len(op.minutes):
            raise ProjectionRowError(
                f"candle hour {op.hour_id}: {len(op.minutes)} minutes to write, "
                f"{self.cursor.rowcount} written (is its market.candle_hour.opened missing?)"
            )

    def _roll_up(self, op: RollUpCandles) -> None:
        self.cursor.execute(
            sql.SQL(ROLL_UP_HOUR).format(
                hours_1h=self._name("rm_candles_1h"),
                minutes=self._name("rm_candles_1m"),
                hours=self._name("rm_candle_hours"),
            ),
            (op.hour_id,),
        )
        self.cursor.execute(
            sql.SQL(ROLL_UP_DAY).format(
                days=self._name("rm_candles_1d"),
                hours_1h=self._name("rm_candles_1h"),
                hours=self._name("rm_candle_hours"),
            ),
            (op.hour_id,),
        )


ROLL_UP_HOUR = """
INSERT INTO {hours_1h} AS t (market, open_time, open, high, low, close, volume_btc, value_krw,
    minutes)
SELECT h.market, h.hour_start,
    (array_agg(c.open ORDER BY c.open_time))[1], max(c.high), min(c.low),
    (array_agg(c.close ORDER BY c.open_time DESC))[1], sum(c.volume_btc), sum(c.value_krw),
    count(*)
FROM {hours} h
JOIN {minutes} c ON c.market = h.market AND c.open_time >= h.hour_start
    AND c.open_time < h.hour_start + interval '1 hour' AND NOT c.is_synthetic
WHERE h.hour_id = %s
GROUP BY h.market, h.hour_start
ON CONFLICT (market, open_time) DO UPDATE SET open = EXCLUDED.open, high = EXCLUDED.high,
    low = EXCLUDED.low, close = EXCLUDED.close, volume_btc = EXCLUDED.volume_btc,
    value_krw = EXCLUDED.value_krw, minutes = EXCLUDED.minutes
"""
"""The hour candle from its real minutes (minutes without trades are left out, as on Upbit)."""

ROLL_UP_DAY = """
INSERT INTO {days} AS t (market, open_time, open, high, low, close, volume_btc, value_krw,
    minutes)
SELECT d.market, d.day_start,
    (array_agg(c.open ORDER BY c.open_time))[1], max(c.high), min(c.low),
    (array_agg(c.close ORDER BY c.open_time DESC))[1], sum(c.volume_btc), sum(c.value_krw),
    sum(c.minutes)
FROM (SELECT market, date_trunc('day', hour_start, 'UTC') AS day_start FROM {hours}
      WHERE hour_id = %s) d
JOIN {hours_1h} c ON c.market = d.market AND c.open_time >= d.day_start
    AND c.open_time < d.day_start + interval '1 day'
GROUP BY d.market, d.day_start
ON CONFLICT (market, open_time) DO UPDATE SET open = EXCLUDED.open, high = EXCLUDED.high,
    low = EXCLUDED.low, close = EXCLUDED.close, volume_btc = EXCLUDED.volume_btc,
    value_krw = EXCLUDED.value_krw, minutes = EXCLUDED.minutes
"""
"""Upbit's day (00:00 UTC = 09:00 KST) from its hours."""
