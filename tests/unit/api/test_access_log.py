"""The HTTP access log never carries a query string (a token sent in one is not logged)."""

from __future__ import annotations

import logging

import pytest
import uvicorn

from api.http.access_log import uvicorn_log_config


def test_the_access_log_drops_the_query_string_of_every_request(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given uvicorn's logging configured as `ledger run` and `ledger api` configure it
    uvicorn.Config(app="unused:app", log_config=uvicorn_log_config())
    # When a request with a token in its query string is logged, as uvicorn logs it
    logging.getLogger("uvicorn.access").info(
        '%s - "%s %s HTTP/%s" %d',
        "127.0.0.1:50000",
        "POST",
        "/orders?token=tok-abcdefghijklmnopqrstuvwxyz&x=1",
        "1.1",
        401,
    )
    # Then the line names the path and the status, and not the query
    logged = capsys.readouterr().out
    assert '"POST /orders?(query not logged) HTTP/1.1" 401' in logged
    assert "tok-abcdefghijklmnopqrstuvwxyz" not in logged
