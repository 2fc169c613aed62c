"""Rebuild a read model from the log beside the live one; compare, or swap it in.

The rebuild writes the same rows into shadow tables (`<table>__rebuild`) from the log itself,
up to a position; `compare` hashes each live table and its shadow by their ordered rows;
`verify` does both while the live projector runs (it holds the live position still while it
compares, catching the shadow up to it); `swap` replaces the live tables with the shadows in one
transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from psycopg import sql

from adapters.postgres.projection_writer import Decode, LogReader, ProjectionWriter
from adapters.postgres.read_model_store import ReadModelStore
from projections.projection import Projection

SHADOW = "__rebuild"
BATCH = 1000


@dataclass(frozen=True)
class TableComparison:
    """A live table and its rebuilt shadow: their row counts and hashes."""

    table: str
    live_rows: int
    rebuilt_rows: int
    live_hash: str
    rebuilt_hash: str

    @property
    def equal(self) -> bool:
        """Return whether the two hold the same rows."""
        return self.live_hash == self.rebuilt_hash


def shadow_names(projection: Projection) -> dict[str, str]:
    """Return each table of `projection` -> its shadow table's name."""
    return {table: table + SHADOW for table in projection.tables}


def rebuild(
    store: ReadModelStore,
    projection: Projection,
    log: LogReader,
    decode: Decode,
    *,
    upto: int | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> int:
    """Recompute `projection` from the log into fresh shadow tables; return the last position."""
    shadows = shadow_names(projection)
    tracking = projection.name + SHADOW
    with store.connect() as connection, connection.transaction():
        for table, shadow in shadows.items():
            connection.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(shadow)))
            connection.execute(
                sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING ALL)").format(
                    sql.Identifier(shadow), sql.Identifier(table)
                )
            )
        connection.execute("DELETE FROM projection_tracking WHERE projection = %s", (tracking,))
        connection.execute("DELETE FROM projection_parked WHERE projection = %s", (tracking,))
    writer = ProjectionWriter(
        store, projection, log, decode, tables=shadows, tracking_name=tracking
    )
    try:
        return writer.catch_up(upto, batch=BATCH, on_progress=on_progress).position
    finally:
        writer.close()


def compare(store: ReadModelStore, projection: Projection) -> list[TableComparison]:
    """Compare every live table of `projection` with its rebuilt shadow (both held still)."""
    with store.connect() as connection:
        return _compare(connection, projection)


def verify(
    store: ReadModelStore,
    projection: Projection,
    log: LogReader,
    decode: Decode,
    *,
    on_progress: Callable[[int], None] | None = None,
) -> tuple[int, list[TableComparison]]:
    """Rebuild `projection` beside its live tables and compare them at one position.

    The live projector may carry on meanwhile: the rebuild goes up to the live position read
    first, then `compare_at_live_position` holds the live position still and catches up.
    Return the position compared at, and the comparisons; the live tables are not changed.
    """
    with store.connect() as connection:
        started_at = _live_position(connection, projection.name)
    rebuild(store, projection, log, decode, upto=started_at, on_progress=on_progress)
    return compare_at_live_position(store, projection, log, decode)


def compare_at_live_position(
    store: ReadModelStore, projection: Projection, log: LogReader, decode: Decode
) -> tuple[int, list[TableComparison]]:
    """Compare the live tables with the rebuilt shadows at the live projector's position.

    The live tracking row is locked for the comparison (the projector locks it before each
    batch, so it waits); events the projector applied since the rebuild stopped are applied
    to the shadows first. Return the position compared at, and the comparisons.
    """
    with store.connect() as connection, connection.transaction():
        connection.execute(
            "INSERT INTO projection_tracking (projection, last_position) VALUES (%s, 0) "
            "ON CONFLICT (projection) DO NOTHING",
            (projection.name,),
        )
        row = connection.execute(
            "SELECT last_position FROM projection_tracking WHERE projection = %s FOR SHARE",
            (projection.name,),
        ).fetchone()
        assert row is not None
        live = int(row[0])
        writer = ProjectionWriter(
            store,
            projection,
            log,
            decode,
            tables=shadow_names(projection),
            tracking_name=projection.name + SHADOW,
        )
        try:
            writer.catch_up(live, batch=BATCH)
        finally:
            writer.close()
        return live, _compare(connection, projection)


def swap(store: ReadModelStore, projection: Projection, position: int) -> None:
    """Replace the live tables with the rebuilt ones, tracked at `position`, in one transaction."""
    with store.connect() as connection, connection.transaction():
        for table, shadow in shadow_names(projection).items():
            connection.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(table)))
            connection.execute(
                sql.SQL("ALTER TABLE {} RENAME TO {}").format(
                    sql.Identifier(shadow), sql.Identifier(table)
                )
            )
        connection.execute(
            "INSERT INTO projection_tracking (projection, last_position) VALUES (%s, %s) "
            "ON CONFLICT (projection) DO UPDATE SET last_position = EXCLUDED.last_position, "
            "updated_at = now()",
            (projection.name, position),
        )
        connection.execute(
            "DELETE FROM projection_tracking WHERE projection = %s", (projection.name + SHADOW,)
        )
        connection.execute(
            "DELETE FROM projection_parked WHERE projection = %s", (projection.name,)
        )


def drop_shadows(store: ReadModelStore, projection: Projection) -> None:
    """Drop the shadow tables of a rebuild that is not swapped in."""
    with store.connect() as connection, connection.transaction():
        for shadow in shadow_names(projection).values():
            connection.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(shadow)))
        connection.execute(
            "DELETE FROM projection_tracking WHERE projection = %s", (projection.name + SHADOW,)
        )


def _compare(connection: Any, projection: Projection) -> list[TableComparison]:
    found = []
    for table, shadow in shadow_names(projection).items():
        live = _digest(connection, table)
        rebuilt = _digest(connection, shadow)
        found.append(TableComparison(table, live[0], rebuilt[0], live[1], rebuilt[1]))
    return found


def _live_position(connection: Any, projection: str) -> int:
    row = connection.execute(
        "SELECT last_position FROM projection_tracking WHERE projection = %s", (projection,)
    ).fetchone()
    return 0 if row is None else int(row[0])


def _digest(connection: Any, table: str) -> tuple[int, str]:
    row = connection.execute(
        sql.SQL(
            "SELECT count(*), md5(coalesce(string_agg(r::text, E'\\n' ORDER BY r::text), '')) "
            "FROM {} r"
        ).format(sql.Identifier(table))
    ).fetchone()
    return int(row[0]), str(row[1])
