"""The sandbox's order faults through its control client: queued in order, checked, cleared;
and its count of what became of each order POST."""

from __future__ import annotations

import json
import socket
import time
import uuid

import pytest
from pydantic import SecretStr

from adapters.sandbox_exchange.app import SANDBOX_KEYS
from adapters.sandbox_exchange.control import (
    OrderPostCounts,
    SandboxControl,
    SandboxControlRefusedError,
)
from adapters.upbit.auth import UpbitCredentials
from adapters.upbit.errors import (
    UpbitOrderRejectedError,
    UpbitRateLimitedError,
    UpbitServerError,
)
from adapters.upbit.rate_limit import GROUP_LIMITS
from adapters.upbit.rest import UpbitRestClient
from tests.integration.sandbox.conftest import Sandbox
from tests.integration.sandbox.test_client_contract import BlindThrottle, gated_sandbox

KEY = UpbitCredentials("sandbox-access-key", SecretStr(SANDBOX_KEYS["sandbox-access-key"]))
BODY = [("market", "KRW-BTC"), ("side", "bid"), ("price", "10000"), ("ord_type", "price")]


@pytest.mark.parametrize(
    ("kind", "extra", "named"),
    [
        ("crash", {}, "kind 'crash' is not one of error_after_create"),
        ("error_after_create", {"status": 404}, "status 404 is not in 500-599"),
        ("rate_limited", {"count": 0}, "count 0 is not in 1-1000"),
        ("hang_after_create", {"hang_s": 600.0}, "hang_s 600.0 is not in 0-60"),
    ],
)
def test_a_fault_of_unknown_kind_or_out_of_range_is_refused_naming_the_value(
    sandbox: Sandbox, kind: str, extra: dict[str, float], named: str
) -> None:
    with SandboxControl(sandbox.url) as control:
        with pytest.raises(SandboxControlRefusedError) as refused:
            control.faults(kind, **extra)  # type: ignore[arg-type]
        assert refused.value.name == "validation_error" and named in str(refused.value)
        assert control.pending_faults() == []


def test_faults_spoil_the_next_order_posts_in_order_and_can_be_cleared(sandbox: Sandbox) -> None:
    with (
        SandboxControl(sandbox.url) as control,
        UpbitRestClient(sandbox.url, credentials=KEY) as client,
    ):
        control.faults("error_before_create", status=503)
        control.faults("rate_limited")
        assert [f["kind"] for f in control.pending_faults()] == [
            "error_before_create",
            "rate_limited",
        ]
        posts = control.order_posts()
        with pytest.raises(UpbitServerError) as first:
            client.place_order(BODY)
        assert first.value.status == 503
        with pytest.raises(UpbitRateLimitedError):
            client.place_order(BODY)
        assert control.pending_faults() == [] and control.order_posts() == posts + 2
        control.faults("blocked", count=3)
        control.clear_faults()
        assert control.pending_faults() == []


def test_each_order_post_is_counted_by_what_became_of_it(sandbox: Sandbox) -> None:
    # Given a sandbox's counts of order POSTs
    with (
        SandboxControl(sandbox.url) as control,
        UpbitRestClient(sandbox.url, credentials=KEY) as client,
    ):
        before = control.order_post_counts()
        # When one order is created and one is refused by the order book (under the minimum)
        placed = client.place_order([*BODY[:2], ("price", "6000"), ("ord_type", "price")])
        with pytest.raises(UpbitOrderRejectedError):
            client.place_order([*BODY[:2], ("price", "4000"), ("ord_type", "price")])
        # And a client is killed after sending an order POST's headers and half its body
        sent_half = _half_a_post(sandbox.url)
        after = _counts_once_read(control, unread=before.unread + 1)
        held = client.get_open_orders("KRW-BTC", limit=100) + client.get_closed_orders(
            "KRW-BTC", limit=1000
        )

    # Then all three are posts; two reached the book, one was refused by name, one never read
    assert after.posts - before.posts == 3
    assert after.to_book - before.to_book == 2
    assert after.unread - before.unread == 1
    assert after.rate_limited == before.rate_limited
    assert (
        after.refused.get("under_min_total_bid", 0) - before.refused.get("under_min_total_bid", 0)
        == 1
    )
    # And the half-sent order exists nowhere, while the placed one does
    identifiers = {o.identifier for o in held}
    assert sent_half not in identifiers and placed.uuid in {o.uuid for o in held}


def test_order_posts_the_rate_gate_refuses_are_counted_apart_from_the_book() -> None:
    # Given a fresh sandbox and a client that ignores Remaining-Req and its own budget
    with gated_sandbox() as url:
        blind = BlindThrottle({"order": 1000})
        with (
            SandboxControl(url) as control,
            UpbitRestClient(url, credentials=KEY, throttle=blind) as client,
        ):
            # When 16 order POSTs are sent as fast as they go (more than the 12 a second allowed)
            limited = 0
            for _ in range(16):
                try:
                    client.place_order([*BODY[:2], ("price", "6000"), ("ord_type", "price")])
                except UpbitRateLimitedError:
                    limited += 1
            counts = control.order_post_counts()

    # Then the 4 POSTs past the limit are refused by the gate and counted; 12 reached the book
    assert limited == 16 - GROUP_LIMITS["order"] == 4
    assert counts.posts == 16 and counts.rate_limited == limited
    assert counts.to_book == 16 - limited and counts.unread == 0 and counts.refused == {}


def _half_a_post(url: str) -> str:
    """Send an order POST's headers and half its body on a raw socket, then close it."""
    identifier = str(uuid.uuid4())
    params = [*BODY[:2], ("price", "6000"), ("ord_type", "price"), ("identifier", identifier)]
    body = json.dumps(dict(params)).encode()
    host_port = url.removeprefix("http://")
    host, port = host_port.split(":")
    head = (
        f"POST /v1/orders HTTP/1.1\r\nHost: {host_port}\r\nContent-Type: application/json\r\n"
        f"Authorization: {KEY.authorization(params)}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection((host, int(port))) as raw:
        raw.sendall(head + body[: len(body) // 2])
    return identifier


def _counts_once_read(control: SandboxControl, *, unread: int) -> OrderPostCounts:
    """Return the counts once the sandbox has seen `unread` unread POSTs.

    It learns of a half-sent POST asynchronously, when it finds the connection closed.
    """
    deadline = time.monotonic() + 10
    counts = control.order_post_counts()
    while counts.unread < unread and time.monotonic() < deadline:
        time.sleep(0.02)
        counts = control.order_post_counts()
    return counts
