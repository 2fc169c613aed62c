"""The read models' queries in SQL (implements `projections.queries.ReadModelQueries`).

A small connection pool serves the API; lists page by keyset (the cursor is the last row's
sort key, signed and bound to its listing: `adapters.postgres.cursor`), so a page costs one
indexed range scan however deep it is. KST columns come back as aware times at +09:00. A value
the database refuses is reported without the database's text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from adapters.postgres.cursor import CursorCodec
from projections.equity_curve import MARK_STEPS, BookState, Close, mark_to_market
from projections.queries import InvalidQueryValueError, Page, Row

KST = timezone(timedelta(hours=9), "KST")
CANDLE_TABLES = {"1m": "rm_candles_1m", "1h": "rm_candles_1h", "1d": "rm_candles_1d"}


@dataclass(frozen=True)
class Keyset:
    """A listing's sort key: its columns with their SQL types, and its direction."""

    columns: tuple[tuple[str, str], ...]
    descending: bool

    def after(self) -> str:
        """Return the condition for the rows after a cursor's key (its values as parameters)."""
        names = ", ".join(column for column, _ in self.columns)
        marks = ", ".join(f"%s::{kind}" for _, kind in self.columns)
        return f"({names}) {'<' if self.descending else '>'} ({marks})"

    def order_by(self) -> str:
        """Return the ORDER BY list."""
        direction = " DESC" if self.descending else ""
        return ", ".join(column + direction for column, _ in self.columns)

    def kinds(self) -> list[str]:
        """Return the SQL types of the key's columns."""
        return [kind for _, kind in self.columns]

    def of(self, row: Row) -> list[str]:
        """Return a row's key as the cursor's texts."""
        values = (row[column.rpartition(".")[2]] for column, _ in self.columns)
        return [v.isoformat() if isinstance(v, date | datetime) else str(v) for v in values]


ORDERS_KEY = Keyset((("placed_at", "timestamptz"), ("order_id", "uuid")), descending=True)
DAILY_PNL_KEY = Keyset((("trading_day", "date"), ("strategy_id", "text")), descending=True)
SIGNALS_KEY = Keyset((("candle_open_time", "timestamptz"), ("signal_id", "uuid")), True)
RISK_HISTORY_KEY = Keyset((("h.position", "bigint"),), descending=True)
CANDLES_KEY = Keyset((("open_time", "timestamptz"),), descending=False)
RECONCILIATIONS_KEY = Keyset((("position", "bigint"),), descending=True)
EVENTS_KEY = Keyset((("t.position", "bigint"),), descending=False)


class PostgresReadModelQueries:
    """Answers the query API from the read-model tables of one schema."""

    def __init__(
        self,
        conninfo: str,
        schema: str,
        *,
        cursor_key: bytes,
        min_size: int = 2,
        max_size: int = 8,
    ) -> None:
        self.conninfo, self.schema = conninfo, schema
        self._cursors = CursorCodec(cursor_key)
        self._pool = ConnectionPool(
            conninfo,
            min_size=min_size,
            max_size=max_size,
            kwargs={
                "autocommit": True,
                "row_factory": dict_row,
                "options": f"-c search_path={schema},public",
            },
            open=True,
            name="read-models",
        )

    def close(self) -> None:
        """Close the pool."""
        self._pool.close()

    # Tracking.
    def positions_of(self, names: Sequence[str]) -> dict[str, int]:
        """Return each named read model's applied log position (0 if it never ran)."""
        rows = self._all(
            "SELECT projection, last_position FROM projection_tracking WHERE projection = ANY(%s)",
            (list(names),),
        )
        found = {r["projection"]: int(r["last_position"]) for r in rows}
        return {name: found.get(name, 0) for name in names}

    # Orders.
    def orders(
        self,
        *,
        status: str | None,
        strategy_id: str | None,
        market: str | None,
        limit: int,
        cursor: str | None,
    ) -> Page:
        """Return orders, newest first."""
        where, params = _filters(status=status, strategy_id=strategy_id, market=market)
        return self._listing("SELECT * FROM rm_orders", where, params, ORDERS_KEY, limit, cursor)

    def order(self, order_id: UUID) -> Row | None:
        """Return one order with its `fill_list` and `status_history`."""
        found = self._all("SELECT * FROM rm_orders WHERE order_id = %s", (order_id,))
        if not found:
            return None
        order = dict(found[0])
        order["fill_list"] = self._all(
            "SELECT * FROM rm_order_fills WHERE order_id = %s ORDER BY position", (order_id,)
        )
        order["status_history"] = self._all(
            "SELECT * FROM rm_order_status_history WHERE order_id = %s ORDER BY position",
            (order_id,),
        )
        return order

    # Positions and P&L.
    def positions(self, *, strategy_id: str | None) -> Sequence[Row]:
        """Return every position."""
        where, params = _filters(strategy_id=strategy_id)
        return self._all(
            f"SELECT * FROM rm_positions {_where(where)} "  # noqa: S608
            "ORDER BY strategy_id, market",
            params,
        )

    def daily_pnl(self, *, strategy_id: str | None, limit: int, cursor: str | None) -> Page:
        """Return realised P&L per strategy and KST trading day, newest day first."""
        where, params = _filters(strategy_id=strategy_id)
        return self._listing(
            "SELECT * FROM rm_daily_pnl", where, params, DAILY_PNL_KEY, limit, cursor
        )

    def capital(self) -> Sequence[Row]:
        """Return each strategy's allocated capital and cash."""
        return self._all(
            "SELECT p.account, c.strategy_id, c.allocated_krw, c.cash_krw "
            "FROM rm_strategy_capital c JOIN rm_portfolios p USING (portfolio_id) "
            "ORDER BY p.account, c.strategy_id",
            (),
        )

    # Signals.
    def signals(
        self, *, strategy_id: str | None, run_id: str | None, limit: int, cursor: str | None
    ) -> Page:
        """Return strategy signals, newest candle first."""
        where, params = _filters(strategy_id=strategy_id, run_id=run_id)
        return self._listing("SELECT * FROM rm_signals", where, params, SIGNALS_KEY, limit, cursor)

    # Risk.
    def risk_state(self) -> Sequence[Row]:
        """Return each account's limits and trading state."""
        return self._all("SELECT * FROM rm_risk_state ORDER BY account", ())

    def risk_history(self, *, limit: int, cursor: str | None) -> Page:
        """Return risk changes, newest first."""
        select = (
            "SELECT h.*, s.account FROM rm_risk_history h LEFT JOIN rm_risk_state s USING (risk_id)"
        )
        return self._listing(select, [], [], RISK_HISTORY_KEY, limit, cursor)

    # Reconciliations.
    def reconciliations(self, *, run_id: str | None, limit: int, cursor: str | None) -> Page:
        """Return reconciliations, newest first, each with its `difference_list`."""
        where, params = _filters(run_id=run_id)
        page = self._listing(
            "SELECT * FROM rm_reconciliations", where, params, RECONCILIATIONS_KEY, limit, cursor
        )
        ids = [row["reconciliation_id"] for row in page.rows]
        differences: dict[UUID, list[Row]] = {i: [] for i in ids}
        if ids:
            for row in self._all(
                "SELECT * FROM rm_reconciliation_differences WHERE reconciliation_id = ANY(%s) "
                "ORDER BY position",
                (ids,),
            ):
                found = dict(row)
                differences[found.pop("reconciliation_id")].append(found)
        rows = [
            {**row, "difference_list": differences[row["reconciliation_id"]]} for row in page.rows
        ]
        return Page(rows, page.next_cursor)

    # Candles.
    def candles(
        self,
        *,
        market: str,
        interval: str,
        start: datetime | None,
        end: datetime | None,
        limit: int,
        cursor: str | None,
    ) -> Page:
        """Return candles of `interval` in [start, end), oldest first."""
        where = ["market = %s"]
        params: list[Any] = [market]
        if start is not None:
            where.append("open_time >= %s")
            params.append(start)
        if end is not None:
            where.append("open_time < %s")
            params.append(end)
        select = f"SELECT * FROM {CANDLE_TABLES[interval]}"  # noqa: S608 - a fixed name
        return self._listing(select, where, params, CANDLES_KEY, limit, cursor)

    # The equity curve.
    def equity_curve(
        self,
        *,
        account: str,
        strategy_id: str | None,
        market: str,
        interval: str,
        start: datetime | None,
        end: datetime | None,
        limit: int,
        cursor: str | None,
    ) -> Page:
        """Return the equity at each candle close of `interval` in [start, end), oldest first.

        Two range scans: the closes of the page (from the book's first change on), then the
        running totals of the book's changes up to the page's last close, from the last one at
        or before its first close. Equity is computed in Decimal (`mark_to_market`).
        """
        step = MARK_STEPS[interval]
        params: dict[str, Any] = {
            "account": account,
            "strategy": strategy_id,
            "market": market,
            "step": f"{step.total_seconds():.0f} seconds",  # no days: no time zone in it
        }
        first_change = f"(SELECT min(at_utc) FROM ({_book(strategy_id)}) b)"  # noqa: S608
        where = ["market = %(market)s", f"open_time >= {first_change} - %(step)s::interval"]
        if start is not None:
            where.append("open_time >= %(start)s - %(step)s::interval")
            params["start"] = start
        if end is not None:
            where.append("open_time < %(end)s - %(step)s::interval")
            params["end"] = end
        listing = repr(("equity_curve", interval, sorted(params.items())))
        if cursor is not None:
            (after,) = self._cursors.decode(listing, cursor, ["timestamptz"])
            where.append("open_time > %(after)s::timestamptz - %(step)s::interval")
            params["after"] = after
        statement = sql.SQL(
            "SELECT open_time, close FROM {} "  # noqa: S608 - fixed fragments only
            + _where(where)
            + " ORDER BY open_time LIMIT %(limit)s"
        ).format(sql.Identifier(CANDLE_TABLES[interval]))
        candles = self._all(statement, {**params, "limit": limit + 1})
        closes = [
            Close((row["open_time"] + step).astimezone(UTC), row["close"])
            for row in candles[:limit]
        ]
        if not closes:
            return Page([], None)
        states = self._all(
            f"WITH book AS ({_book(strategy_id)}), "  # noqa: S608 - fixed fragments only
            "running AS (SELECT at_utc, position, sum(cash_delta_krw) OVER w AS cash_krw, "
            "sum(qty_delta_btc) OVER w AS qty_btc FROM book WHERE at_utc <= %(last)s "
            "WINDOW w AS (ORDER BY at_utc, position)) "
            "SELECT * FROM running WHERE at_utc > %(first)s UNION ALL "
            "(SELECT * FROM running WHERE at_utc <= %(first)s "
            "ORDER BY at_utc DESC, position DESC LIMIT 1) ORDER BY at_utc, position",
            {**params, "first": closes[0].at_utc, "last": closes[-1].at_utc},
        )
        points = mark_to_market(
            (BookState(r["at_utc"], r["cash_krw"], r["qty_btc"]) for r in states), closes
        )
        more = len(candles) > limit
        last = [closes[-1].at_utc.isoformat()]
        return Page(points, self._cursors.encode(listing, last) if more else None)

    # Events.
    def events(self, *, correlation_id: str, limit: int, cursor: str | None) -> Page:
        """Return the events of one flow, in log order, with their payloads."""
        select = (
            "SELECT t.*, e.payload FROM rm_event_timeline t "
            "JOIN event_log e ON e.position = t.position"
        )
        where, params = ["t.correlation_id = %s"], [correlation_id]
        return self._listing(select, where, params, EVENTS_KEY, limit, cursor)

    def _listing(
        self,
        select: str,
        where: list[str],
        params: list[Any],
        key: Keyset,
        limit: int,
        cursor: str | None,
    ) -> Page:
        """Return one page of `select` (fixed fragments only) in `key` order, after `cursor`.

        The cursor is bound to the statement, its filters and their values.
        """
        listing = repr((select, where, params))
        if cursor is not None:
            where = [*where, key.after()]
            params = [*params, *self._cursors.decode(listing, cursor, key.kinds())]
        rows = self._all(
            f"{select} {_where(where)} ORDER BY {key.order_by()} LIMIT %s",  # noqa: S608
            (*params, limit + 1),
        )
        if len(rows) <= limit:
            return Page(rows, None)
        shown = rows[:limit]
        return Page(shown, self._cursors.encode(listing, key.of(shown[-1])))

    def _all(self, statement: Any, params: Sequence[Any] | Mapping[str, Any]) -> list[Row]:
        try:
            with self._pool.connection() as connection:
                rows = connection.execute(statement, params).fetchall()
        except psycopg.DataError:
            # The database's text quotes the statement and its parameters: not for clients.
            raise InvalidQueryValueError(
                "a filter value is outside what the read models can compare"
            ) from None
        return [_with_kst(row) for row in rows]  # type: ignore[arg-type]  # dict rows


def _book(strategy_id: str | None) -> str:
    # The changes of an account's book (of one strategy, or of all): cash rows name their
    # portfolio and strategy; BTC rows their position, whose owner rm_positions knows.
    strategy = strategy_id is not None
    return (
        "SELECT c.position, c.at_utc, c.cash_delta_krw, c.qty_delta_btc "  # noqa: S608
        "FROM rm_book_changes c "
        "JOIN rm_portfolios p ON p.portfolio_id = c.portfolio_id WHERE p.account = %(account)s"
        + (" AND c.strategy_id = %(strategy)s" if strategy else "")
        + " UNION ALL "
        "SELECT c.position, c.at_utc, c.cash_delta_krw, c.qty_delta_btc FROM rm_book_changes c "
        "JOIN rm_positions s ON s.position_id = c.position_id "
        "WHERE s.account = %(account)s AND s.market = %(market)s"
        + (" AND s.strategy_id = %(strategy)s" if strategy else "")
    )


def _filters(**values: str | None) -> tuple[list[str], list[Any]]:
    where, params = [], []
    for column, value in values.items():
        if value is not None:
            where.append(f"{column} = %s")
            params.append(value)
    return where, params


def _where(conditions: list[str]) -> str:
    return ("WHERE " + " AND ".join(conditions)) if conditions else ""


def _with_kst(row: Row) -> Row:
    return {
        key: value.replace(tzinfo=KST)
        if key.endswith("_kst") and isinstance(value, datetime) and value.tzinfo is None
        else value
        for key, value in row.items()
    }
