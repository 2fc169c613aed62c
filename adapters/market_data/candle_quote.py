"""Whether a candle file is of a KRW market: by its name and, for KRW-BTC, its prices.

A file carries no market column, so a Binance BTC/USDT file would be read as KRW-BTC without a
word. Two signs say otherwise: a name naming another quote currency or a foreign exchange
(`binance-BTCUSDT-1m-2023.csv.gz`), and, for KRW-BTC, closes far below any KRW-BTC price.
`--allow-non-krw` reads such a file as KRW anyway.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from adapters.market_data.candle_file_error import CandleFileError

FOREIGN_QUOTES = ("usdt", "usdc", "fdusd", "tusd", "busd", "usd")
"""Quote currencies a name may end a pair with (`btcusdt`) or name alone."""
FOREIGN_WORDS = ("eur", "jpy", "gbp", "binance", "bybit", "okx", "coinbase", "kraken", "bitfinex")
"""Other quote currencies and exchanges without a KRW market, matched as whole words."""
KRW_BTC_FLOOR_KRW = 1_000_000
"""Upbit's KRW-BTC opened in October 2017 near 5,000,000 KRW and has never traded below
1,000,000 KRW; a median close under it is another market's price (BTC/USDT is ~1/1,300)."""
FLAG = "--allow-non-krw"


def check_krw_quote(
    path: Path,
    closes: np.ndarray,  # type: ignore[type-arg]
    market: str,
    *,
    is_non_krw_allowed: bool = False,
) -> None:
    """Refuse a file that looks like another market's, unless `is_non_krw_allowed`.

    Raises:
        CandleFileError: naming the file, the sign and the flag that overrides the refusal.
    """
    if is_non_krw_allowed:
        return
    sign = _foreign_name(path.name)
    if sign is not None:
        raise CandleFileError(
            f"candle file {path} looks like a non-KRW market (its name says {sign!r}): the "
            f"ledger would read its prices as {market}'s KRW prices; pass {FLAG} to read "
            "them as KRW anyway"
        )
    if market == "KRW-BTC" and len(closes):
        median = float(np.median(closes))
        if median < KRW_BTC_FLOOR_KRW:
            shown = f"{median:,.8f}".rstrip("0").rstrip(".")
            raise CandleFileError(
                f"candle file {path}: its median close {shown} is not a KRW-BTC price (below "
                f"{KRW_BTC_FLOOR_KRW:,} KRW, where Upbit's KRW-BTC never traded), so the file "
                f"looks like another market's; pass {FLAG} to read it as KRW-BTC anyway"
            )


def _foreign_name(name: str) -> str | None:
    words = [word for word in re.split(r"[^a-z0-9]+", name.lower()) if word]
    if "krw" in words:
        return None
    for word in words:
        for quote in FOREIGN_QUOTES:
            if word == quote or (word.endswith(quote) and word[: -len(quote)].isalpha()):
                return quote
    for word in words:
        if word in FOREIGN_WORDS:
            return word
    return None
