"""Upbit errors become named exceptions; requests are signed and verified as Upbit does;
the Remaining-Req header and the throttle keep within the rate limits."""

from __future__ import annotations

import json

import jwt
import pytest
from pydantic import SecretStr

from adapters.upbit.auth import UpbitCredentials, query_hash, query_string, verify_authorization
from adapters.upbit.errors import (
    UpbitAuthError,
    UpbitBlockedError,
    UpbitNotFoundError,
    UpbitOrderRejectedError,
    UpbitPermanentError,
    UpbitRateLimitedError,
    UpbitServerError,
    error_from_response,
)
from adapters.upbit.parsing import loads
from adapters.upbit.rate_limit import Throttle, parse_remaining_req
from tests.unit.adapters.upbit.samples import SAMPLES

ERROR_BODIES = loads((SAMPLES / "errors.json").read_text(encoding="utf-8"))["samples"][0]["bodies"]
EXPECTED = {
    "400": UpbitPermanentError,
    "validation_error": UpbitPermanentError,
    "thirdparty_agreement_required": UpbitAuthError,
    "out_of_scope": UpbitAuthError,
    "order_not_found": UpbitNotFoundError,
    "insufficient_funds_ask": UpbitOrderRejectedError,
    "insufficient_funds_bid": UpbitOrderRejectedError,
    "invalid_access_key": UpbitAuthError,
    "jwt_verification": UpbitAuthError,
}
STATUS = {
    "400": 400,
    "validation_error": 400,
    "thirdparty_agreement_required": 403,
    "out_of_scope": 403,
    "order_not_found": 404,
    "insufficient_funds_ask": 400,
    "insufficient_funds_bid": 400,
    "invalid_access_key": 401,
    "jwt_verification": 401,
}


@pytest.mark.parametrize("body", ERROR_BODIES, ids=lambda b: str(b["error"]["name"]))
def test_every_recorded_error_body_becomes_a_named_exception(body: dict) -> None:  # type: ignore[type-arg]
    name = str(body["error"]["name"])
    error = error_from_response(STATUS[name], json.dumps(body, ensure_ascii=False))
    assert type(error) is EXPECTED[name]
    assert (error.name, error.upbit_message) == (name, body["error"]["message"])
    assert name in str(error)


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (429, "Too many API requests.", UpbitRateLimitedError),
        (418, "", UpbitBlockedError),
        (500, "<html>oops</html>", UpbitServerError),
        (503, "", UpbitServerError),
    ],
)
def test_rate_limit_block_and_server_errors_are_told_apart(
    status: int, body: str, kind: type
) -> None:
    error = error_from_response(status, body)
    assert type(error) is kind and error.status == status


def test_query_hashes_match_the_worked_vectors_of_the_reference() -> None:
    assert query_hash({"market": "KRW-BTC"}) == (
        "b749dfc2e17f75e5b46c8161f97fe7c9298ed4167ea21c5c94d16573efd8a801351470c0ff1a9a3f1e763f82"
        "49968218c04c571c8b45aa80cd4588e6c4be0738"
    )
    assert query_hash(
        [
            ("market", "KRW-BTC"),
            ("side", "bid"),
            ("volume", "0.0005"),
            ("price", "10000000"),
            ("ord_type", "limit"),
        ]
    ) == (
        "69098b6c4f1518a87f8b03932e893084bd4034f58a80cfed692567f62fa7983842426d5fe5f4425222af7e75"
        "9b0580ad494d9830e6d20ec87bcb55a3f91e0a42"
    )


def test_array_parameters_are_hashed_with_literal_brackets_unencoded() -> None:
    assert (
        query_string([("uuids", ["a", "b"]), ("start_time", "2024-08-19T00:00:00+00:00")])
        == "uuids[]=a&uuids[]=b&start_time=2024-08-19T00:00:00+00:00"
    )


CREDENTIALS = UpbitCredentials(
    "test-access", SecretStr("test-secret-0123456789-abcdefghijklmnopqrstuvwxyz-0123456789ABCDEF")
)
SECRETS = {"test-access": "test-secret-0123456789-abcdefghijklmnopqrstuvwxyz-0123456789ABCDEF"}


def test_signed_request_carries_the_query_hash_and_verifies() -> None:
    header = CREDENTIALS.authorization({"market": "KRW-BTC"})
    claims = jwt.decode(
        header.removeprefix("Bearer "),
        "test-secret-0123456789-abcdefghijklmnopqrstuvwxyz-0123456789ABCDEF",
        algorithms=["HS512"],
    )
    assert claims["query_hash"] == query_hash({"market": "KRW-BTC"})
    assert claims["query_hash_alg"] == "SHA512"
    assert verify_authorization(header, SECRETS, {"market": "KRW-BTC"}, set()) == "test-access"


def test_request_without_parameters_has_no_query_hash() -> None:
    header = CREDENTIALS.authorization()
    claims = jwt.decode(header.removeprefix("Bearer "), options={"verify_signature": False})
    assert "query_hash" not in claims and claims["nonce"]


@pytest.mark.parametrize(
    ("header", "params", "name"),
    [
        (None, None, "jwt_verification"),
        ("Bearer not-a-token", None, "jwt_verification"),
        (
            UpbitCredentials("other", SecretStr("x" * 64)).authorization(),
            None,
            "invalid_access_key",
        ),
        (
            UpbitCredentials("test-access", SecretStr("wrong-secret-" + "0" * 60)).authorization(),
            None,
            "jwt_verification",
        ),
        (
            CREDENTIALS.authorization({"market": "KRW-BTC"}),
            {"market": "KRW-ETH"},
            "invalid_query_payload",
        ),
    ],
)
def test_bad_tokens_are_refused_with_upbits_error_names(header, params, name) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UpbitAuthError) as refused:
        verify_authorization(header, SECRETS, params, set())
    assert refused.value.name == name and refused.value.status == 401


def test_a_reused_nonce_is_refused_and_hs256_is_accepted() -> None:
    seen: set[str] = set()
    header = UpbitCredentials(
        "test-access",
        SecretStr("test-secret-0123456789-abcdefghijklmnopqrstuvwxyz-0123456789ABCDEF"),
        algorithm="HS256",
    ).authorization()
    verify_authorization(header, SECRETS, None, seen)
    with pytest.raises(UpbitAuthError, match="nonce"):
        verify_authorization(header, SECRETS, None, seen)


def test_credentials_never_show_the_secret() -> None:
    assert "test-secret" not in repr(CREDENTIALS) and "test-secret" not in str(CREDENTIALS)


def test_remaining_req_headers_of_every_recorded_response_parse() -> None:
    seen = set()
    for path in SAMPLES.glob("*.json"):
        for sample in loads(path.read_text(encoding="utf-8")).get("samples", []):
            for interaction in sample.get("interactions", []):
                header = ((interaction.get("response") or {}).get("headers") or {}).get(
                    "Remaining-Req"
                )
                if header:
                    seen.add(parse_remaining_req(header).group)
    assert {"candles", "default", "order"} <= seen


def test_a_malformed_remaining_req_header_is_refused() -> None:
    with pytest.raises(Exception, match="is not of the form"):
        parse_remaining_req("group=candles sec=9")


def test_throttle_waits_for_the_next_second_once_the_group_budget_is_spent() -> None:
    # Given a fake clock at t = 10.2 s and a limit of 2 requests per second
    now = [10.2]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    throttle = Throttle({"candles": 2}, clock=lambda: now[0], sleep=sleep)
    throttle.acquire("candles")
    throttle.acquire("candles")
    assert slept == []
    # When a third request comes in the same second, then it waits for the next one
    throttle.acquire("candles")
    assert slept == [pytest.approx(0.8)] and int(now[0]) == 11
    # And a header saying sec=0 spends the rest of the second
    throttle.observe(parse_remaining_req("group=candles; min=600; sec=0"))
    throttle.acquire("candles")
    assert int(now[0]) == 12
