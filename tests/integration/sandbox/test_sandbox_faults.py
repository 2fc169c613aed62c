"""The sandbox's order faults through its control client: queued in order, checked, cleared."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from adapters.sandbox_exchange.app import SANDBOX_KEYS
from adapters.sandbox_exchange.control import SandboxControl, SandboxControlRefusedError
from adapters.upbit.auth import UpbitCredentials
from adapters.upbit.errors import UpbitRateLimitedError, UpbitServerError
from adapters.upbit.rest import UpbitRestClient
from tests.integration.sandbox.conftest import Sandbox

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
