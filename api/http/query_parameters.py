"""Query parameters an endpoint does not take are refused (400 unknown_parameter), not ignored.

A misspelt filter (`?stauts=OPEN`) would otherwise answer the unfiltered listing as if it were
the filtered one.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from api.http.errors import ApiError

_DECLARED: dict[int, tuple[APIRoute, frozenset[str]]] = {}
"""Each route's query parameters by the route's id (the route is kept, so its id is not reused)."""


def _declared(route: APIRoute) -> frozenset[str]:
    known = _DECLARED.get(id(route))
    if known is not None:
        return known[1]
    names: set[str] = set()
    pending: list[Dependant] = [route.dependant]
    while pending:
        dependant = pending.pop()
        names.update(param.alias for param in dependant.query_params)
        pending.extend(dependant.dependencies)
    _DECLARED[id(route)] = (route, frozenset(names))
    return frozenset(names)


def refuse_unknown_parameters(request: Request) -> None:
    """Refuse (400) a query parameter the matched endpoint does not declare."""
    route = request.scope.get("route")
    if not request.query_params or not isinstance(route, APIRoute):
        return
    declared = _declared(route)
    unknown = sorted(set(request.query_params) - declared)
    if unknown:
        takes = ", ".join(sorted(declared)) or "none"
        raise ApiError(
            400,
            "unknown_parameter",
            f"unknown query parameter(s) {', '.join(map(repr, unknown))}; "
            f"{request.url.path} takes: {takes}",
        )
