"""The Upbit REST client (httpx): quotation and exchange endpoints, throttled per group.

Each call waits for its rate-limit group's budget, signs exchange calls (§2), reads the
`Remaining-Req` header, and turns every non-2xx answer into a named `UpbitError`. Reads are
retried with exponential back-off on 429, 5xx and network errors; an order POST never is (its
outcome must be looked up by identifier first).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx

from adapters.upbit.auth import UpbitCredentials
from adapters.upbit.errors import (
    UpbitBlockedError,
    UpbitError,
    UpbitRetryableError,
    UpbitUnavailableError,
    error_from_response,
)
from adapters.upbit.parsing import (
    UpbitAccount,
    UpbitCandle,
    UpbitChance,
    UpbitOrder,
    UpbitOrderbook,
    UpbitTicker,
    UpbitTradeTick,
    loads,
    parse_accounts,
    parse_candles,
    parse_chance,
    parse_order,
    parse_orderbooks,
    parse_orders,
    parse_tickers,
    parse_trade_ticks,
)
from adapters.upbit.rate_limit import Throttle, parse_remaining_req

MINUTE_UNITS = (1, 3, 5, 10, 15, 30, 60, 240)


class UpbitRestClient:
    """Talks to `base_url` (Upbit, or the sandbox) over HTTP."""

    def __init__(
        self,
        base_url: str = "https://api.upbit.com",
        *,
        credentials: UpbitCredentials | None = None,
        throttle: Throttle | None = None,
        timeout_s: float = 10.0,
        read_retries: int = 4,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.credentials = credentials
        self.throttle = throttle or Throttle()
        self.read_retries = read_retries
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            timeout=timeout_s,
            transport=transport,
            headers={"Accept": "application/json"},
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> UpbitRestClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Quotation.
    def get_markets(self) -> list[dict[str, Any]]:
        """Return the listed pairs (GET /v1/market/all)."""
        body = self._read("GET", "/v1/market/all", [("is_details", "true")], "market")
        if not isinstance(body, list):
            raise UpbitError("market/all did not answer a list")
        return body

    def get_minute_candles(
        self, market: str, *, unit: int = 1, to: datetime | None = None, count: int = 200
    ) -> list[UpbitCandle]:
        """Return up to `count` (1-200) candles of `unit` minutes starting before `to`.

        The list is oldest first (Upbit answers newest first).
        """
        if unit not in MINUTE_UNITS:
            raise ValueError(f"minute unit {unit} is not one of {MINUTE_UNITS}")
        params = self._candle_params(market, to, count)
        return parse_candles(self._read("GET", f"/v1/candles/minutes/{unit}", params, "candles"))

    def get_day_candles(
        self, market: str, *, to: datetime | None = None, count: int = 200
    ) -> list[UpbitCandle]:
        """Return up to `count` day candles (00:00 UTC = 09:00 KST) before `to`, oldest first."""
        params = self._candle_params(market, to, count)
        return parse_candles(self._read("GET", "/v1/candles/days", params, "candles"))

    def get_tickers(self, markets: Sequence[str]) -> list[UpbitTicker]:
        """Return the tickers of `markets` (GET /v1/ticker)."""
        params = [("markets", ",".join(markets))]
        return parse_tickers(self._read("GET", "/v1/ticker", params, "ticker"))

    def get_trades(
        self, market: str, *, count: int = 1, cursor: int | None = None
    ) -> list[UpbitTradeTick]:
        """Return up to `count` (1-500) recent trades, newest first; `cursor` pages back."""
        if not 1 <= count <= 500:
            raise ValueError(f"trade count {count} is not in 1-500")
        params = [("market", market), ("count", str(count))]
        if cursor is not None:
            params.append(("cursor", str(cursor)))
        return parse_trade_ticks(self._read("GET", "/v1/trades/ticks", params, "crix-trades"))

    def get_orderbooks(self, markets: Sequence[str]) -> list[UpbitOrderbook]:
        """Return the order books of `markets` (GET /v1/orderbook), levels best first."""
        params = [("markets", ",".join(markets))]
        return parse_orderbooks(self._read("GET", "/v1/orderbook", params, "orderbook"))

    # Exchange.
    def get_accounts(self) -> list[UpbitAccount]:
        """Return the balances (GET /v1/accounts)."""
        return parse_accounts(self._read("GET", "/v1/accounts", [], "default", signed=True))

    def get_chance(self, market: str) -> UpbitChance:
        """Return fees and limits of a market (GET /v1/orders/chance)."""
        body = self._read("GET", "/v1/orders/chance", [("market", market)], "default", signed=True)
        return parse_chance(body)

    def get_order(self, *, uuid: str | None = None, identifier: str | None = None) -> UpbitOrder:
        """Return one order by its uuid or by our identifier (GET /v1/order)."""
        params = _order_key(uuid, identifier)
        return parse_order(self._read("GET", "/v1/order", params, "default", signed=True))

    def place_order(self, body: Sequence[tuple[str, str]]) -> UpbitOrder:
        """Place an order (POST /v1/orders); never retried: on doubt, look up the identifier."""
        response = self._send("POST", "/v1/orders", list(body), "order", signed=True)
        return parse_order(loads(response.content))

    def cancel_order(self, *, uuid: str | None = None, identifier: str | None = None) -> UpbitOrder:
        """Cancel one order (DELETE /v1/order)."""
        params = _order_key(uuid, identifier)
        response = self._send("DELETE", "/v1/order", params, "default", signed=True)
        return parse_order(loads(response.content))

    def get_open_orders(
        self,
        market: str | None = None,
        *,
        states: Sequence[str] = ("wait",),
        limit: int = 100,
        page: int = 1,
        order_by: str = "desc",
    ) -> list[UpbitOrder]:
        """Return one page (1-based) of `limit` resting orders (GET /v1/orders/open).

        Newest first by default (`order_by="asc"`: oldest first).
        """
        params = ([("market", market)] if market else []) + [("states[]", s) for s in states]
        params += [("limit", str(limit)), ("page", str(page)), ("order_by", order_by)]
        return parse_orders(self._read("GET", "/v1/orders/open", params, "default", signed=True))

    def get_closed_orders(
        self,
        market: str | None = None,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int = 100,
    ) -> list[UpbitOrder]:
        """Return done and cancelled orders created in a window of at most 7 days, newest first."""
        params = [("market", market)] if market else []
        for key, at in (("start_time", start), ("end_time", end)):
            if at is not None:
                params.append((key, at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")))
        params.append(("limit", str(limit)))
        return parse_orders(self._read("GET", "/v1/orders/closed", params, "default", signed=True))

    # Plumbing.
    @staticmethod
    def _candle_params(market: str, to: datetime | None, count: int) -> list[tuple[str, str]]:
        if not 1 <= count <= 200:
            raise ValueError(f"candle count {count} is not in 1-200")
        params = [("market", market), ("count", str(count))]
        if to is not None:
            params.append(("to", to.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")))
        return params

    def _read(
        self,
        method: str,
        path: str,
        params: list[tuple[str, str]],
        group: str,
        *,
        signed: bool = False,
    ) -> Any:
        delay = 0.2
        for attempt in range(self.read_retries + 1):
            try:
                return loads(self._send(method, path, params, group, signed=signed).content)
            except UpbitBlockedError:
                raise
            except UpbitRetryableError:
                if attempt == self.read_retries:
                    raise
                self._sleep(delay)
                delay = min(delay * 2, 5.0)
        raise AssertionError("unreachable")

    def _send(
        self, method: str, path: str, params: list[tuple[str, str]], group: str, *, signed: bool
    ) -> httpx.Response:
        headers = {}
        if signed:
            if self.credentials is None:
                raise UpbitError(f"{method} {path} needs Upbit credentials; none are configured")
            headers["Authorization"] = self.credentials.authorization(params or None)
        self.throttle.acquire(group)
        try:
            if method == "POST":
                response = self._http.post(path, json=dict(params), headers=headers)
            else:
                query = httpx.QueryParams(tuple(params))
                response = self._http.request(method, path, params=query, headers=headers)
        except httpx.TimeoutException as error:
            raise UpbitUnavailableError(f"{method} {path} timed out: {error}") from None
        except httpx.HTTPError as error:  # connection refused or reset, a broken body, ...
            raise UpbitUnavailableError(f"{method} {path} failed: {error}") from None
        remaining = response.headers.get("Remaining-Req")
        if remaining:
            self.throttle.observe(parse_remaining_req(remaining))
        if response.status_code >= 400:
            raise error_from_response(response.status_code, response.text)
        return response


def _order_key(uuid: str | None, identifier: str | None) -> list[tuple[str, str]]:
    if uuid is not None and identifier is None:
        return [("uuid", uuid)]
    if identifier is not None and uuid is None:
        return [("identifier", identifier)]
    raise ValueError("give exactly one of uuid and identifier")
