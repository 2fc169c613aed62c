"""Upbit request signing: a JWT per request with a SHA-512 hash of its parameters (§2).

The hashed string is `key=value&...` in the order sent, unencoded, arrays as `key[]=v`; GET and
DELETE hash the query, POST the JSON body's fields. The nonce is fresh per request (uuid4: an
adapter, not the domain, so randomness is allowed here).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jwt
from pydantic import SecretStr

from adapters.upbit.errors import UpbitAuthError

ALGORITHMS = ("HS512", "HS256")


def query_string(params: Mapping[str, Any] | Sequence[tuple[str, Any]]) -> str:
    """Return the unencoded `k=v&...` string Upbit hashes, arrays as repeated `k[]=v`."""
    pairs: Iterable[tuple[str, Any]] = params.items() if isinstance(params, Mapping) else params
    parts: list[str] = []
    for key, value in pairs:
        if isinstance(value, list | tuple):
            name = key if key.endswith("[]") else f"{key}[]"
            parts.extend(f"{name}={item}" for item in value)
        else:
            parts.append(f"{key}={value}")
    return "&".join(parts)


def query_hash(params: Mapping[str, Any] | Sequence[tuple[str, Any]]) -> str:
    """Return the lower-case hex SHA-512 of the parameters' query string."""
    return hashlib.sha512(query_string(params).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class UpbitCredentials:
    """An access key and its secret (never printed: the secret is a SecretStr)."""

    access_key: str
    secret_key: SecretStr
    algorithm: str = "HS512"

    def __post_init__(self) -> None:
        if self.algorithm not in ALGORITHMS:
            raise ValueError(f"JWT algorithm {self.algorithm!r} must be one of {ALGORITHMS}")

    def __repr__(self) -> str:
        return f"UpbitCredentials(access_key={self.access_key[:4]}…, secret_key=**********)"

    def authorization(
        self, params: Mapping[str, Any] | Sequence[tuple[str, Any]] | None = None
    ) -> str:
        """Return the `Authorization` header value for a request with these parameters."""
        claims: dict[str, Any] = {"access_key": self.access_key, "nonce": str(uuid.uuid4())}
        if params:
            claims["query_hash"] = query_hash(params)
            claims["query_hash_alg"] = "SHA512"
        token = jwt.encode(claims, self.secret_key.get_secret_value(), algorithm=self.algorithm)
        return f"Bearer {token}"


def verify_authorization(
    header: str | None,
    secrets: Mapping[str, str],
    params: Mapping[str, Any] | Sequence[tuple[str, Any]] | None,
    seen_nonces: set[str],
) -> str:
    """Verify a request's token as Upbit does (for the sandbox); return its access key.

    Raises:
        UpbitAuthError: named like Upbit's errors (jwt_verification, invalid_access_key,
            invalid_query_payload, nonce_used).
    """
    if not header or not header.startswith("Bearer "):
        raise UpbitAuthError(
            "no bearer token",
            status=401,
            name="jwt_verification",
            upbit_message="Jwt 토큰 검증에 실패했습니다.",
        )
    token = header.removeprefix("Bearer ")
    try:
        unverified = jwt.decode(token, options={"verify_signature": False})
        access_key = str(unverified["access_key"])
    except (jwt.PyJWTError, KeyError):
        raise UpbitAuthError(
            "malformed token",
            status=401,
            name="jwt_verification",
            upbit_message="Jwt 토큰 검증에 실패했습니다.",
        ) from None
    secret = secrets.get(access_key)
    if secret is None:
        raise UpbitAuthError(
            "unknown access key",
            status=401,
            name="invalid_access_key",
            upbit_message="잘못된 엑세스 키입니다.",
        )
    try:
        claims = jwt.decode(token, secret, algorithms=list(ALGORITHMS))
    except jwt.PyJWTError:
        raise UpbitAuthError(
            "bad signature",
            status=401,
            name="jwt_verification",
            upbit_message="Jwt 토큰 검증에 실패했습니다.",
        ) from None
    if params and claims.get("query_hash") != query_hash(params):
        raise UpbitAuthError(
            "query hash mismatch",
            status=401,
            name="invalid_query_payload",
            upbit_message="쿼리 오류입니다.",
        )
    nonce = str(claims.get("nonce", ""))
    if not nonce or nonce in seen_nonces:
        raise UpbitAuthError(
            "nonce reused",
            status=401,
            name="nonce_used",
            upbit_message="이미 요청한 nonce값이 다시 사용되었습니다.",
        )
    seen_nonces.add(nonce)
    return access_key
