"""The sandbox's exchange endpoints: Upbit's private paths, JWT-verified, over `PaperExchange`.

Accounts, orders/chance, POST /v1/orders (with `identifier`), GET and DELETE /v1/order by uuid
or identifier, and the open and closed order lists. Every request must carry a token signed
with a configured test key and the query hash of its parameters (upbit-api.md §2), as on Upbit.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, Response
from starlette.requests import ClientDisconnect

from adapters.sandbox_exchange.clock import SandboxClock
from adapters.sandbox_exchange.faults import OrderFault, OrderFaults
from adapters.sandbox_exchange.paper_exchange import OrderRefusedError, PaperExchange
from adapters.upbit.auth import verify_authorization
from adapters.upbit.errors import UpbitAuthError

Answer = Callable[[str, Callable[[], Any]], Response]
ErrorBody = Callable[[int, str, str], Response]
CLOSED_WINDOW = timedelta(days=7)


def add_exchange_routes(
    app: FastAPI,
    *,
    answer: Answer,
    error: ErrorBody,
    exchange: PaperExchange,
    clock: SandboxClock,
    keys: Mapping[str, str],
    faults: OrderFaults,
    arrivals: list[tuple[datetime, float]],
) -> None:
    """Add the private endpoints to `app`; `keys` maps test access keys to their secrets.

    Each order POST whose body was read takes the next injected fault from `faults`, if one
    waits; `faults` also counts what became of every order POST. For each
    order created while the paced clock holds where it ran to, `arrivals` gets its creation
    time and the wall seconds from the moment the clock reached that time (its minute
    closed) to the order.
    """
    nonces: set[str] = set()

    def signed(request: Request, params: list[tuple[str, Any]], work: Callable[[str], Any]) -> Any:
        try:
            access_key = verify_authorization(
                request.headers.get("Authorization"), keys, params, nonces
            )
            return work(access_key)
        except UpbitAuthError as refused:
            return error(refused.status or 401, refused.name or "jwt_verification", str(refused))
        except OrderRefusedError as refused:
            return error(refused.status, refused.name, refused.message)

    def private(request: Request, work: Callable[[str], Any]) -> Response:
        """Answer a signed GET/DELETE in the `default` group (its query is what is hashed)."""
        params = list(request.query_params.multi_items())
        return answer("default", lambda: signed(request, params, work))

    @app.get("/v1/accounts")
    def accounts(request: Request) -> Response:
        return private(request, lambda _: exchange.accounts(clock.now()))

    @app.get("/v1/orders/chance")
    def chance(request: Request) -> Response:
        market = request.query_params.get("market", "")
        return private(request, lambda _: exchange.chance(market, clock.now()))

    @app.post("/v1/orders")
    async def place(request: Request) -> Response:
        try:
            raw = await request.body()
        except ClientDisconnect:  # the client is gone (killed mid-request): nothing is judged
            faults.note_unread()
            return PlainTextResponse("the client closed the connection", 499)
        fault = faults.take()
        if fault is not None and not fault.is_after_create:
            return _spoilt(fault, error)
        placed = _place(request, raw)
        if fault is None or placed.status_code != 201:
            return placed
        if fault.kind == "hang_after_create":
            await asyncio.sleep(fault.hang_s)  # the client has timed out by now
            return placed
        return _spoilt(fault, error)

    def _place(request: Request, raw: bytes) -> Response:
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return answer(
                "order",
                lambda: error(400, "validation_error", "the body must be a JSON object"),
            )

        def work(access_key: str) -> Response:
            faults.note_to_book()
            now = clock.now()
            try:
                placed = exchange.place(body, now, access_key)
            except OrderRefusedError as refused:
                faults.note_refused(refused.name)
                raise
            reached = clock.wall_reached(now)
            if reached is not None:
                arrivals.append((now, clock.wall() - reached))
            return Response(_json(placed.body()), 201, media_type="application/json;charset=UTF-8")

        return answer("order", lambda: signed(request, list(body.items()), work))

    @app.get("/v1/order")
    def get_order(request: Request) -> Response:
        uuid, identifier = _order_key(request)
        return private(
            request,
            lambda _: exchange.find(clock.now(), uuid=uuid, identifier=identifier).body(
                with_trades=True
            ),
        )

    @app.delete("/v1/order")
    def cancel_order(request: Request) -> Response:
        uuid, identifier = _order_key(request)
        return private(
            request, lambda _: exchange.cancel(clock.now(), uuid=uuid, identifier=identifier)
        )

    @app.get("/v1/orders/open")
    def open_orders(request: Request) -> Response:
        def work(_: str) -> Any:
            states = _states(request, default=("wait",), allowed=("wait", "watch"))
            limit = _bounded(request, "limit", 100, 100)
            page = _bounded(request, "page", 1, 10**6)
            orders = exchange.listed(
                clock.now(), states=states, market=request.query_params.get("market")
            )
            orders = _ordered(orders, request)[(page - 1) * limit : page * limit]
            return [o.body(with_funds=True) for o in orders]

        return private(request, work)

    @app.get("/v1/orders/closed")
    def closed_orders(request: Request) -> Response:
        def work(_: str) -> Any:
            states = _states(request, default=("done", "cancel"), allowed=("done", "cancel"))
            limit = _bounded(request, "limit", 100, 1000)
            now = clock.now()
            start, end = _window(request, now)
            orders = [
                o
                for o in exchange.listed(
                    now, states=states, market=request.query_params.get("market")
                )
                if start <= o.created_at <= end
            ]
            return [o.body(with_funds=True) for o in _ordered(orders, request)[:limit]]

        return private(request, work)


def _spoilt(fault: OrderFault, error: ErrorBody) -> Response:
    if fault.kind == "rate_limited":
        headers = {"Remaining-Req": "group=order; min=720; sec=0"}
        return PlainTextResponse("Too many API requests.", 429, headers=headers)
    if fault.kind == "blocked":
        return error(418, "blocked", "Too many requests: temporarily blocked.")
    return PlainTextResponse(f"injected fault {fault.kind}", fault.status)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _order_key(request: Request) -> tuple[str | None, str | None]:
    return request.query_params.get("uuid"), request.query_params.get("identifier")


def _states(request: Request, *, default: tuple[str, ...], allowed: tuple[str, ...]) -> set[str]:
    single = request.query_params.get("state")
    many = request.query_params.getlist("states[]")
    if single is not None and many:
        raise OrderRefusedError(400, "validation_error", "state and states[] are exclusive")
    chosen = [single] if single is not None else many or list(default)
    wrong = [s for s in chosen if s not in allowed]
    if wrong:
        raise OrderRefusedError(
            400, "validation_error", f"state {wrong[0]!r} is not one of {allowed} here"
        )
    return set(chosen)


def _bounded(request: Request, key: str, default: int, most: int) -> int:
    text = request.query_params.get(key, str(default))
    if not text.isdigit() or not 1 <= int(text) <= most:
        raise OrderRefusedError(400, "validation_error", f"{key} {text!r} must be 1-{most}")
    return int(text)


def _ordered(orders: list[Any], request: Request) -> list[Any]:
    order_by = request.query_params.get("order_by", "desc")
    if order_by not in ("asc", "desc"):
        raise OrderRefusedError(400, "validation_error", f"order_by {order_by!r} is asc or desc")
    return orders if order_by == "asc" else orders[::-1]


def _window(request: Request, now: datetime) -> tuple[datetime, datetime]:
    start = _time(request, "start_time")
    end = _time(request, "end_time")
    if start is None and end is None:
        end = now
    if start is None:
        assert end is not None
        start = end - CLOSED_WINDOW
    if end is None:
        end = start + CLOSED_WINDOW
    if end - start > CLOSED_WINDOW or end < start:
        raise OrderRefusedError(
            400, "validation_error", "start_time to end_time must be a window of at most 7 days"
        )
    return start, end


def _time(request: Request, key: str) -> datetime | None:
    text = request.query_params.get(key)
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise OrderRefusedError(
            400, "validation_error", f"{key} {text!r} is not an ISO 8601 time with a zone"
        ) from None
    if value.tzinfo is None:
        raise OrderRefusedError(400, "validation_error", f"{key} {text!r} has no zone")
    return value
