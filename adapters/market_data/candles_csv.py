"""Read 1-minute candles from CSV (optionally gzipped): `ts_utc,open,high,low,close,volume[,value]`.

`ts_utc` is the candle's open time in UTC, ISO 8601 with `Z`; prices in the quote currency,
volume in the base asset, value in the quote currency. Every malformed row is refused with its
file, line and column, and nothing is returned.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

import numpy as np

from adapters.market_data.candle_file_error import CandleFileError
from adapters.market_data.candle_interval import check_one_minute
from domain.candles.candle import Candle
from domain.candles.tape import CandleTape
from domain.errors import InvalidCandleError

COLUMNS = ("ts_utc", "open", "high", "low", "close", "volume")
OPTIONAL = ("value",)

__all__ = ["COLUMNS", "CandleFileError", "CandleRows", "read_candles", "read_rows", "read_tape"]


def read_candles(
    path: Path, *, start: datetime | None = None, end: datetime | None = None
) -> list[Candle]:
    """Return the file's candles with open time in [start, end), checked and in order.

    Raises:
        CandleFileError: the file is missing or a row is malformed, unsorted or duplicated.
    """
    if not path.is_file():
        raise CandleFileError(f"candle file {path} does not exist")
    return list(_rows(path, start, end))


def read_tape(
    path: Path, *, start: datetime | None = None, end: datetime | None = None
) -> CandleTape:
    """Return the file's candles in [start, end) as a gap-free tape (the fast loader).

    The checks are those of `read_candles`, vectorised; on any failure the row-by-row reader
    runs to name the file, line and column.

    Raises:
        CandleFileError: the file is missing, empty in the range, or malformed.
    """
    return read_rows(path, start=start, end=end).tape()


@dataclass(frozen=True)
class CandleRows:
    """The checked rows of a candle file: minutes since the epoch, float prices, exact text."""

    minutes: np.ndarray  # type: ignore[type-arg]
    prices: np.ndarray  # type: ignore[type-arg]
    lines: list[str]
    """The data lines of the rows kept, as the file wrote them."""

    def values(self, row: int) -> str:
        """Return the row's text after the time: `open,high,low,close,volume[,value]`."""
        return self.lines[row][21:].rstrip()

    def fields(self, row: int) -> list[str]:
        """Return the row's fields after the time: open, high, low, close, volume[, value]."""
        return self.lines[row].strip().split(",")[1:]

    def tape(self) -> CandleTape:
        """Return the rows as a gap-free tape (missing minutes synthetic)."""
        return CandleTape(int(self.minutes[0]), self.minutes, self.prices, self.fields)


def read_rows(
    path: Path, *, start: datetime | None = None, end: datetime | None = None
) -> CandleRows:
    """Return the file's rows with open time in [start, end), checked (see `read_tape`).

    Raises:
        CandleFileError: the file is missing, empty in the range, or malformed.
    """
    if not path.is_file():
        raise CandleFileError(f"candle file {path} does not exist")
    try:
        with _open(path) as handle:
            text = handle.read()
    except (OSError, EOFError, UnicodeDecodeError) as error:
        raise CandleFileError(f"candle file {path} cannot be read: {error}") from None
    lines = text.split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    try:
        header = lines[0].strip().split(",") if lines else []
        if not _is_header(header) or len(lines) < 2:
            raise ValueError("header")
        body = lines[1:]
        if not all(len(line) > 20 and line[16:21] == ":00Z," for line in body):
            raise ValueError("time")
        if text.count(",") != (len(header) - 1) * len(lines):
            # An extra column somewhere (a missing one fails to load below): the row reader
            # names the row.
            raise ValueError("columns")
        minutes = np.array([line[:19] for line in body], dtype="datetime64[m]").astype(np.int64)
        numbers = np.loadtxt(
            io.StringIO(text),
            delimiter=",",
            skiprows=1,
            comments=None,
            quotechar=None,
            usecols=range(1, len(header)),
            dtype=np.float64,
            ndmin=2,
        )
        if len(numbers) != len(body) or not _plausible(minutes, numbers):
            raise ValueError("values")
    except ValueError:
        list(_rows(path, None, None))  # names the first bad row
        raise CandleFileError(f"candle file {path} is malformed") from None
    check_one_minute(path, minutes)
    first = 0 if start is None else int(np.searchsorted(minutes, _minute(start), "left"))
    last = len(minutes) if end is None else int(np.searchsorted(minutes, _minute(end), "left"))
    if first >= last:
        raise CandleFileError(f"candle file {path} has no candles between {start} and {end}")
    return CandleRows(minutes[first:last], numbers[first:last, :5], body[first:last])


def _is_header(header: list[str]) -> bool:
    return tuple(header) in (COLUMNS, COLUMNS + OPTIONAL)


def _minute(at: datetime) -> int:
    return int((at - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() // 60)


def _plausible(minutes: np.ndarray, numbers: np.ndarray) -> bool:  # type: ignore[type-arg]
    o, h, lo, c, v = (numbers[:, k] for k in range(5))
    checks = [
        np.isfinite(numbers).all(),
        (np.diff(minutes) > 0).all(),
        (np.minimum(np.minimum(o, h), np.minimum(lo, c)) > 0).all(),
        (lo <= np.minimum(o, c)).all() and (h >= np.maximum(o, c)).all(),
        (v >= 0).all() and (numbers.shape[1] < 6 or (numbers[:, 5] >= 0).all()),
    ]
    return all(bool(check) for check in checks)


def _open(path: Path) -> io.TextIOBase:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return path.open(encoding="utf-8", newline="")


def _rows(path: Path, start: datetime | None, end: datetime | None) -> Iterator[Candle]:
    try:
        with _open(path) as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None or not _is_header(header):
                raise CandleFileError(
                    f"{path}:1: header {','.join(header or [])!r} must be "
                    f"{','.join(COLUMNS)}[,value]"
                )
            width = len(header)
            previous: datetime | None = None
            for line, row in enumerate(reader, start=2):
                candle = _candle(path, line, row, width)
                if previous is not None and candle.open_time <= previous:
                    kind = "duplicate" if candle.open_time == previous else "unsorted"
                    raise CandleFileError(
                        f"{path}:{line}: {kind} minute {row[0]} after "
                        f"{previous.isoformat().replace('+00:00', 'Z')}: rows must be strictly "
                        "increasing by ts_utc"
                    )
                previous = candle.open_time
                if (start is None or candle.open_time >= start) and (
                    end is None or candle.open_time < end
                ):
                    yield candle
    except (OSError, EOFError, UnicodeDecodeError, csv.Error) as error:
        raise CandleFileError(f"candle file {path} cannot be read: {error}") from None


def _candle(path: Path, line: int, row: list[str], width: int) -> Candle:
    if len(row) != width:
        raise CandleFileError(f"{path}:{line}: {len(row)} columns, the header has {width}")
    open_time = _time(path, line, row[0])
    numbers = []
    for column, text in enumerate(row[1:], start=2):
        try:
            number = Decimal(text)
        except InvalidOperation:
            name = (COLUMNS + OPTIONAL)[column - 1]
            raise CandleFileError(
                f"{path}:{line}:{column}: {name} {text!r} is not a number"
            ) from None
        if not number.is_finite():
            raise CandleFileError(f"{path}:{line}:{column}: {text!r} is not a finite number")
        numbers.append(number)
    value = numbers[5] if width == 7 else Decimal(0)
    try:
        return Candle.checked(
            open_time, numbers[0], numbers[1], numbers[2], numbers[3], numbers[4], value
        )
    except InvalidCandleError as error:
        raise CandleFileError(f"{path}:{line}: {error}") from None


def _time(path: Path, line: int, text: str) -> datetime:
    if not text.endswith("Z"):
        raise CandleFileError(
            f"{path}:{line}:1: ts_utc {text!r} must be ISO 8601 UTC ending in Z, "
            "e.g. 2023-01-01T00:00:00Z"
        )
    try:
        return datetime.fromisoformat(text[:-1]).replace(tzinfo=UTC)
    except ValueError:
        raise CandleFileError(f"{path}:{line}:1: ts_utc {text!r} is not an ISO 8601 time") from None
