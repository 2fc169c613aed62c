"""The HTTP access log: uvicorn's, with every query string left out (it may carry a token).

Commands take their token in the Authorization header; a client that puts one in the query
string anyway (`?token=…`) must not leave it in the log, so no request's query is logged.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

QUERY_MARK = "?(query not logged)"


class QueryStringFilter(logging.Filter):
    """Replace the query string of uvicorn's access-log line with a marker."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the request path argument; keep every record."""
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            path, question, _ = args[2].partition("?")
            if question:
                record.args = (*args[:2], path + QUERY_MARK, *args[3:])
        return True


def uvicorn_log_config() -> dict[str, Any]:
    """Return uvicorn's logging configuration with the query string filter on its access log."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["no_query_string"] = {"()": QueryStringFilter}
    config["handlers"]["access"]["filters"] = ["no_query_string"]
    return config
