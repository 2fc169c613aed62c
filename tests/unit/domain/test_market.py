"""Markets: Upbit market codes, and which of them this ledger trades."""

from __future__ import annotations

import pytest

from domain.errors import UnknownMarketError
from domain.market import DEFAULT_MARKETS, Market, parse_market


def test_parse_market_of_krw_btc_gives_quote_krw_and_base_btc() -> None:
    market = parse_market("KRW-BTC")

    assert market == Market(code="KRW-BTC", quote="KRW", base="BTC")
    assert str(market) == "KRW-BTC"


def test_default_markets_are_krw_btc_only() -> None:
    assert frozenset({"KRW-BTC"}) == DEFAULT_MARKETS


@pytest.mark.parametrize("code", ["BTC", "krw-btc", "KRW_BTC", "KRW-", "-BTC", "KRW-BTC "])
def test_parse_market_of_malformed_code_is_refused_naming_the_expected_form(code: str) -> None:
    with pytest.raises(UnknownMarketError) as refused:
        parse_market(code)

    assert repr(code) in str(refused.value)
    assert "QUOTE-BASE, e.g. KRW-BTC" in str(refused.value)


@pytest.mark.parametrize("code", [None, 42, b"KRW-BTC"])
def test_parse_market_of_non_text_is_refused(code: object) -> None:
    with pytest.raises(UnknownMarketError, match="is not an Upbit market code"):
        parse_market(code)  # type: ignore[arg-type]


@pytest.mark.parametrize("code", ["BTC-ETH", "USDT-BTC"])
def test_parse_market_of_non_krw_market_is_refused(code: str) -> None:
    with pytest.raises(UnknownMarketError, match=f"'{code}' is not a KRW market"):
        parse_market(code)


def test_parse_market_of_krw_market_not_traded_here_is_refused_listing_known_markets() -> None:
    with pytest.raises(UnknownMarketError) as refused:
        parse_market("KRW-DOGE")

    assert "'KRW-DOGE' is not traded by this ledger" in str(refused.value)
    assert "known markets: KRW-BTC" in str(refused.value)


def test_parse_market_with_configured_markets_accepts_them_and_refuses_the_default() -> None:
    known = frozenset({"KRW-ETH", "KRW-XRP"})

    assert parse_market("KRW-ETH", known).base == "ETH"
    with pytest.raises(UnknownMarketError, match="known markets: KRW-ETH, KRW-XRP"):
        parse_market("KRW-BTC", known)
