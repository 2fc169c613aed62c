"""The error of a candle file that cannot be read as 1-minute candles of a market."""

from __future__ import annotations


class CandleFileError(Exception):
    """A candle file is missing, unreadable or malformed; the message says where."""
