"""The app's route table, flattened, with what each route needs: its path parameters, whether
it is an API or a page route, and the permission its `require(...)` dependency declares.

The tenant-isolation and role-matrix tests are generated from this, so a route added later is
covered (or fails loudly) without anyone editing a list.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.routing import APIRoute

from npsloop.accounts.deps import api_principal, optional_principal, page_principal

PARAM = re.compile(r"{([a-zA-Z_][a-zA-Z0-9_]*)(?::[^}]*)?}")


@dataclass(frozen=True)
class RouteInfo:
    method: str
    path: str
    module: str
    permission: str | None  # None: any signed-in principal (or public, see `public`)
    authenticated: bool  # False: reachable without credentials (public by token or login)

    @property
    def params(self) -> list[str]:
        return PARAM.findall(self.path)

    @property
    def is_api(self) -> bool:
        return self.path.startswith("/api/")

    @property
    def destructive(self) -> bool:
        """Removes the object its last path parameter names (DELETE, or a page's POST .../delete
        or .../{action}): such calls get a fresh object each time."""
        return self.method == "DELETE" or (
            self.method == "POST" and self.path.endswith(("/delete", "/{action}", "/erase")))

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"


def _iter_routes(routes) -> Iterator[tuple[str, APIRoute]]:
    """(full path, APIRoute) of every route, including those of included routers (which this
    FastAPI keeps as lazily expanded `_IncludedRouter` entries in app.routes)."""
    for route in routes:
        candidates = getattr(route, "effective_candidates", None)
        if candidates is not None:
            yield from _iter_routes(candidates())
            continue
        original = getattr(route, "original_route", route)
        if isinstance(original, APIRoute):
            yield getattr(route, "path", original.path), original


def _security(dependant) -> tuple[str | None, bool]:
    """(declared permission, needs a principal) from a route's dependency tree."""
    permission: str | None = None
    authenticated = False
    stack = [dependant]
    while stack:
        node = stack.pop()
        call = node.call
        if getattr(call, "permission", None):
            permission = call.permission
        if call in (api_principal, page_principal):
            authenticated = True
        stack.extend(node.dependencies)
    return permission, authenticated


def route_table(app: FastAPI) -> list[RouteInfo]:
    found: list[RouteInfo] = []
    for path, route in _iter_routes(app.routes):
        permission, authenticated = _security(route.dependant)
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            found.append(RouteInfo(method, path, route.endpoint.__module__, permission,
                                   authenticated or permission is not None))
    return found


def uses_optional_principal(app: FastAPI, info: RouteInfo) -> bool:
    for path, route in _iter_routes(app.routes):
        if path == info.path and info.method in route.methods:
            stack = [route.dependant]
            while stack:
                node = stack.pop()
                if node.call is optional_principal:
                    return True
                stack.extend(node.dependencies)
    return False


def fill(path: str, values: dict[str, str]) -> str:
    return PARAM.sub(lambda m: values[m.group(1)], path)
