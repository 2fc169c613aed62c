"""The cursor key: the configured secret, else derived from one, the same on every replica."""

from __future__ import annotations

import pytest

from api.cursor_key import cursor_key
from api.settings import ConfigError, load_settings, redacted

TOKEN = "a-token-of-enough-length-0123"


def test_replicas_with_the_same_settings_derive_the_same_key_and_it_is_not_the_token() -> None:
    one = cursor_key(load_settings(overrides={"api": {"token": TOKEN}}))
    other = cursor_key(load_settings(overrides={"api": {"token": TOKEN}}))
    assert one == other and len(one) == 32
    assert TOKEN.encode() not in one
    assert one != cursor_key(load_settings(overrides={"api": {"token": TOKEN + "x"}}))


def test_a_configured_cursor_key_wins_over_the_token_and_is_never_shown() -> None:
    key = "k" * 40
    settings = load_settings(overrides={"api": {"token": TOKEN, "cursor_key": key}})
    assert cursor_key(settings) != cursor_key(load_settings(overrides={"api": {"token": TOKEN}}))
    assert key not in str(redacted(settings)) and key not in repr(settings)


def test_a_short_cursor_key_is_refused_without_echoing_it() -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(overrides={"api": {"cursor_key": "short-key"}})
    assert "api.cursor_key" in str(refused.value) and "short-key" not in str(refused.value)
