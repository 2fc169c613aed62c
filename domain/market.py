"""Markets: an Upbit market code such as KRW-BTC (quote currency, then base asset)."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from domain.errors import UnknownMarketError

_CODE = re.compile(r"^(?P<quote>[A-Z]{2,5})-(?P<base>[A-Z0-9]{1,10})$")

DEFAULT_MARKETS: frozenset[str] = frozenset({"KRW-BTC"})
"""Markets traded when none are configured (strategies.md "Market": default KRW-BTC)."""


@dataclass(frozen=True)
class Market:
    """An Upbit market, e.g. quote KRW and base BTC for KRW-BTC."""

    code: str
    quote: str
    base: str

    def __str__(self) -> str:
        return self.code


def parse_market(code: str, known: Collection[str] = DEFAULT_MARKETS) -> Market:
    """Return the market for `code` when it is well formed and one of `known`.

    Raises:
        UnknownMarketError: the code is malformed, not a KRW market, or not traded here.
    """
    match = _CODE.match(code) if isinstance(code, str) else None
    if match is None:
        raise UnknownMarketError(
            f"market {code!r} is not an Upbit market code of the form QUOTE-BASE, e.g. KRW-BTC"
        )
    if match["quote"] != "KRW":
        raise UnknownMarketError(f"market {code!r} is not a KRW market; only KRW markets trade")
    if code not in known:
        raise UnknownMarketError(
            f"market {code!r} is not traded by this ledger; known markets: "
            + ", ".join(sorted(known))
        )
    return Market(code=code, quote=match["quote"], base=match["base"])
