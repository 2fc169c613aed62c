"""The sandbox's HTTP API: Upbit's paths, shapes, headers, limits and error bodies (offline).

Quotation endpoints serve the replayed candles up to the sandbox clock's now; every answer
carries `Remaining-Req`; over the limit it answers 429 (text body, as Upbit does) and, when the
caller carries on, 418. Tests drive the clock through `/sandbox/clock`, and simulate an
exchange outage or maintenance through `/sandbox/outage`, and spoil the next order POSTs
through `/sandbox/faults`; `/sandbox/restore` serves a resumed run's past order requests again.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import PlainTextResponse, Response

from adapters.sandbox_exchange.clock import SandboxClock, UntilBeforeNowError
from adapters.sandbox_exchange.exchange_routes import add_exchange_routes
from adapters.sandbox_exchange.faults import FaultRefusedError, OrderFaults
from adapters.sandbox_exchange.json_text import Number, render_json
from adapters.sandbox_exchange.market_data import Bar, SandboxMarket
from adapters.sandbox_exchange.paper_exchange import PaperExchange
from adapters.sandbox_exchange.quotes import (
    last_closed_index,
    orderbook_body,
    ticker_body,
    trade_body,
    trades_before,
)
from adapters.sandbox_exchange.rate_limits import RateLimiter
from adapters.sandbox_exchange.restore import RestoreRefusedError, restore_account
from adapters.sandbox_exchange.websocket_feed import FeedHub, serve_feed

KST = timedelta(hours=9)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MINUTE_UNITS = (1, 3, 5, 10, 15, 30, 60, 240)
NAMES = {"KRW-BTC": ("비트코인", "Bitcoin")}
RATE_PLACES = Decimal("1e-10")
CAUTIONS = (
    "PRICE_FLUCTUATIONS",
    "TRADING_VOLUME_SOARING",
    "DEPOSIT_AMOUNT_SOARING",
    "GLOBAL_PRICE_DIFFERENCES",
    "CONCENTRATION_OF_SMALL_ACCOUNTS",
)
"""`market_event.caution` flags of GET /v1/market/all?is_details=true (all false here)."""
OUTAGE_MODES = ("none", "down", "maintenance")
"""`POST /sandbox/outage`: down = 503 and no WebSocket; maintenance = 403 market_offline."""
SANDBOX_KEYS = {
    "sandbox-access-key": "sandbox-secret-key-for-offline-tests-only-never-a-real-upbit-key"
}
"""The default test key pair: offline only, never a real Upbit key."""


def create_sandbox_app(
    markets: dict[str, SandboxMarket],
    clock: SandboxClock,
    limiter: RateLimiter | None = None,
    *,
    exchange: PaperExchange | None = None,
    keys: Mapping[str, str] | None = None,
) -> FastAPI:
    """Return the sandbox exchange over `markets`, on `clock`.

    `exchange` holds the test account and its orders (default: 10,000,000 KRW, no
    participation cap); `keys` maps the test access keys to their secrets.
    """
    app = FastAPI(title="upbit-ledger sandbox exchange", docs_url=None, redoc_url=None)
    limits = limiter or RateLimiter()

    outage = {"mode": "none"}

    def answer(group: str, build: Any) -> Response:
        if outage["mode"] == "down":
            return PlainTextResponse("Service Unavailable", 503)
        if outage["mode"] == "maintenance":
            return error(403, "market_offline", "The market is offline for maintenance.")
        admission = limits.admit(group)
        headers = {"Remaining-Req": admission.remaining_req}
        if admission.status == 429:
            return PlainTextResponse("Too many API requests.", 429, headers=headers)
        if admission.status == 418:
            return error(418, "blocked", "Too many requests: temporarily blocked.", headers)
        if group in ("market", "candles", "ticker", "orderbook", "crix-trades"):
            headers["Limit-By-Ip"] = "Yes"
        result = build()
        if isinstance(result, Response):
            result.headers.update(headers)
            return result
        return Response(
            render_json(result), 200, headers=headers, media_type="application/json;charset=UTF-8"
        )

    def markets_of(request: Request) -> list[str] | Response:
        codes = [c for c in request.query_params.get("markets", "").split(",") if c]
        if not codes:
            return error(
                400, 400, "Missing request parameter error. Check the required parameters!"
            )
        return codes

    def market_of(code: str | None) -> SandboxMarket | Response:
        if not code:
            return error(
                400, 400, "Missing request parameter error. Check the required parameters!"
            )
        found = markets.get(code)
        return found if found is not None else error(404, 404, "Code not found")

    @app.get("/v1/market/all")
    def market_all(request: Request) -> Response:
        details = request.query_params.get("is_details", "false") == "true"

        def listing(code: str) -> dict[str, Any]:
            korean, english = NAMES.get(code, (code, code))
            body: dict[str, Any] = {"market": code, "korean_name": korean, "english_name": english}
            if details:
                body["market_event"] = {"warning": False, "caution": dict.fromkeys(CAUTIONS, False)}
            return body

        return answer("market", lambda: [listing(code) for code in markets])

    @app.get("/v1/candles/minutes/{unit}")
    def minute_candles(unit: int, request: Request) -> Response:
        def build() -> Any:
            if unit not in MINUTE_UNITS:
                return error(400, 400, f"unit {unit} is not one of {MINUTE_UNITS}")
            return candles(request, unit)

        return answer("candles", build)

    @app.get("/v1/candles/days")
    def day_candles(request: Request) -> Response:
        return answer("candles", lambda: candles(request, 1440))

    def candles(request: Request, unit: int) -> Any:
        found = market_of(request.query_params.get("market"))
        if isinstance(found, Response):
            return found
        count_text = request.query_params.get("count", "1")
        if not count_text.isdigit() or not 1 <= int(count_text) <= 200:
            return error(400, "validation_error", f"count {count_text} must be 1-200")
        now = clock.now()
        before = now
        if "to" in request.query_params:
            parsed = parse_to(request.query_params["to"])
            if parsed is None:
                return error(
                    400, "validation_error", f"to {request.query_params['to']!r} is not a time"
                )
            before = parsed
        count = int(count_text)
        bars = found.minute_bars(before=before, now=now, count=count + 1, unit=unit)
        bodies = [candle_body(found.market, bar, unit) for bar in bars[:count]]
        if unit == 1440:  # day candles also compare with the previous day's close
            for k, body in enumerate(bodies):
                previous = Decimal(bars[k + 1].close if k + 1 < len(bars) else bars[k].open)
                close = Decimal(bars[k].close)
                body["prev_closing_price"] = previous
                body["change_price"] = close - previous
                body["change_rate"] = ((close - previous) / previous).quantize(RATE_PLACES)
        return bodies

    @app.get("/v1/ticker")
    def ticker(request: Request) -> Response:
        def build() -> Any:
            codes = markets_of(request)
            if isinstance(codes, Response):
                return codes
            bodies = []
            for code in codes:
                found = market_of(code)
                if isinstance(found, Response):
                    return found
                body = ticker_body(found, clock.now())
                if body is not None:
                    bodies.append(body)
            return bodies

        return answer("ticker", build)

    @app.get("/v1/trades/ticks")
    def trades(request: Request) -> Response:
        def build() -> Any:
            found = market_of(request.query_params.get("market"))
            if isinstance(found, Response):
                return found
            count_text = request.query_params.get("count", "1")
            if not count_text.isdigit() or not 1 <= int(count_text) <= 500:
                return error(400, "validation_error", f"count {count_text} must be 1-500")
            end = last_closed_index(found, clock.now())
            cursor = request.query_params.get("cursor")
            if cursor is not None:
                if not cursor.isdigit():
                    return error(400, "validation_error", f"cursor {cursor!r} is not a trade id")
                at = EPOCH + timedelta(milliseconds=int(cursor) // 10_000)
                end = min(end, last_closed_index(found, at))  # trades before the cursor's
            return [trade_body(found, t) for t in trades_before(found, end, int(count_text))]

        return answer("crix-trades", build)

    @app.get("/v1/orderbook")
    def orderbook(request: Request) -> Response:
        def build() -> Any:
            codes = markets_of(request)
            if isinstance(codes, Response):
                return codes
            count_text = request.query_params.get("count", "30")
            if not count_text.isdigit() or not 1 <= int(count_text) <= 30:
                return error(400, "validation_error", f"count {count_text} must be 1-30")
            books = []
            for code in codes:
                found = market_of(code)
                if isinstance(found, Response):
                    return found
                books.append(orderbook_body(found, clock.now(), int(count_text)))
            return books

        return answer("orderbook", build)

    faults = OrderFaults()
    arrivals: list[tuple[datetime, float]] = []
    account = exchange or PaperExchange(markets)
    access_keys = SANDBOX_KEYS if keys is None else keys
    add_exchange_routes(
        app,
        answer=answer,
        error=error,
        exchange=account,
        clock=clock,
        keys=access_keys,
        faults=faults,
        arrivals=arrivals,
    )

    @app.get("/sandbox/latency")
    def order_latency(request: Request) -> Response:
        """Seconds from a minute's close on the paced clock to each order created then.

        `?after=ISO` keeps the orders created after that time (e.g. past a system's start-up).
        """
        after = parse_instant(request.query_params.get("after", "")) or datetime.min.replace(
            tzinfo=UTC
        )
        ordered = sorted(seconds for at, seconds in arrivals if at > after)

        def pick(q: float) -> float | None:
            return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else None

        body = {"orders": len(ordered), "p50_s": pick(0.5), "p99_s": pick(0.99)}
        body["max_s"] = ordered[-1] if ordered else None
        return _json_response(body)

    @app.get("/sandbox/faults")
    def pending_faults() -> Response:
        """The waiting faults, faults served, and what became of the order POSTs."""
        return _json_response(
            {**faults.body(), "order_posts_rate_limited": limits.refused("order")}
        )

    @app.post("/sandbox/faults")
    async def add_faults(request: Request) -> Response:
        try:
            faults.add(await request.json())
        except (FaultRefusedError, ValueError) as refused:
            return error(400, "validation_error", str(refused))
        return _json_response(faults.body())

    @app.delete("/sandbox/faults")
    def clear_faults() -> Response:
        faults.clear()
        return _json_response(faults.body())

    hub = FeedHub()

    @app.websocket("/websocket/v1")
    async def feed(socket: WebSocket) -> None:
        if outage["mode"] != "none":
            await socket.close(code=1013)  # refused at the handshake: try again later
            return
        await serve_feed(socket, markets, clock, hub)

    @app.post("/sandbox/outage")
    async def set_outage(request: Request) -> Response:
        body = await request.json()
        mode = body.get("mode") if isinstance(body, dict) else None
        if mode not in OUTAGE_MODES:
            return error(400, "validation_error", f"mode {mode!r} is not one of {OUTAGE_MODES}")
        outage["mode"] = mode
        dropped = await hub.drop_all() if mode != "none" else 0
        return Response(
            render_json({"mode": mode, "dropped": dropped}), 200, media_type="application/json"
        )

    @app.post("/sandbox/websocket/drop")
    async def drop_feeds() -> Response:
        dropped = await hub.drop_all()
        return Response(render_json({"dropped": dropped}), 200, media_type="application/json")

    @app.post("/sandbox/websocket/inject")
    async def inject_frame(request: Request) -> Response:
        body = await request.json()
        sent = await hub.inject(str(body.get("text", "")))
        return Response(render_json({"sent": sent}), 200, media_type="application/json")

    @app.post("/sandbox/restore")
    async def restore(request: Request) -> Response:
        """Serve a resumed run's past order requests again, then hold the clock where it was."""
        try:
            outcome, at = restore_account(account, await request.json(), access_keys)
        except (RestoreRefusedError, ValueError) as refused:
            return error(400, "restore_refused", str(refused))
        clock.set(at)
        hub.clock_moved()
        return _json_response({**vars(outcome), "clock": clock_body(clock, markets)})

    @app.get("/sandbox/clock")
    def get_clock() -> Response:
        return _json_response(clock_body(clock, markets))

    @app.post("/sandbox/clock")
    async def set_clock(request: Request) -> Response:
        body = await request.json()
        if not isinstance(body, dict) or not ("at" in body or "until" in body):
            return error(400, "validation_error", CLOCK_BODIES)
        at = parse_instant(body["at"]) if "at" in body else None
        until = parse_instant(body["until"]) if body.get("until") is not None else None
        if ("at" in body and at is None) or (body.get("until") is not None and until is None):
            return error(400, "validation_error", f"times must be ISO 8601: {CLOCK_BODIES}")
        if at is not None:
            clock.set(at, frozen=body.get("frozen"))
        if "until" in body:
            try:
                clock.release(until)
            except UntilBeforeNowError as refused:
                return error(400, "until_before_now", str(refused))
        hub.clock_moved()
        return _json_response(clock_body(clock, markets))

    return app


CLOCK_BODIES = 'body must be {"at": ISO time, "frozen"?: bool} or {"until": ISO time | null}'


def clock_body(clock: SandboxClock, markets: Mapping[str, SandboxMarket]) -> dict[str, Any]:
    """Return GET /sandbox/clock: now, hold point, speed, frozen, the file's first and last candle.

    Times are ISO 8601 UTC; `until` is null when the clock is not paced; `last_candle_at` is the
    open time of the last candle, so the file is used up once now >= it + 1 minute.
    """
    state = clock.state()
    return {
        "now": state.now.isoformat(),
        "until": None if state.until is None else state.until.isoformat(),
        "speed": state.speed,
        "frozen": state.is_frozen,
        "first_candle_at": min(m.first_time for m in markets.values()).isoformat(),
        "last_candle_at": max(m.last_time for m in markets.values()).isoformat(),
    }


def parse_instant(value: Any) -> datetime | None:
    """Parse an ISO 8601 time (Z, an offset, or none: UTC) into UTC; None if it is not one."""
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _json_response(body: Any) -> Response:
    return Response(render_json(body), 200, media_type="application/json")


def error(
    status: int, name: str | int, message: str, headers: dict[str, str] | None = None
) -> Response:
    """Return Upbit's error body `{"error": {"name", "message"}}`."""
    return Response(
        render_json({"error": {"name": name, "message": message}}),
        status,
        headers=headers,
        media_type="application/json;charset=UTF-8",
    )


def parse_to(text: str) -> datetime | None:
    """Parse Upbit's `to`: ISO with Z or offset, or naive (taken as UTC)."""
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T"))
    except ValueError:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def candle_body(market: str, bar: Bar, unit: int) -> dict[str, Any]:
    """Return a candle as Upbit's REST shape (numbers exact)."""
    body: dict[str, Any] = {
        "market": market,
        "candle_date_time_utc": bar.start.strftime("%Y-%m-%dT%H:%M:%S"),
        "candle_date_time_kst": (bar.start + KST).strftime("%Y-%m-%dT%H:%M:%S"),
        "opening_price": Number(bar.open),
        "high_price": Number(bar.high),
        "low_price": Number(bar.low),
        "trade_price": Number(bar.close),
        "timestamp": int(bar.last_trade_at.timestamp() * 1000),
        "candle_acc_trade_price": bar.value,
        "candle_acc_trade_volume": bar.volume,
    }
    if unit < 1440:
        body["unit"] = unit
    return body
