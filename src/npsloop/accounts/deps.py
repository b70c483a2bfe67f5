"""Who is calling: an API key (Bearer) or a signed-in user (cookie + CSRF)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from starlette.concurrency import run_in_threadpool

from npsloop.accounts import service
from npsloop.accounts.key_cache import api_key_cache
from npsloop.core.deps import SessionDep
from npsloop.core.security import constant_time_equals, token_hash

SESSION_COOKIE = "npsloop_session"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


@dataclass(frozen=True)
class Principal:
    org_id: str
    role: str
    actor: str
    user_id: str | None = None
    csrf_token: str | None = None
    via: str = "api_key"

    def can(self, permission: str) -> bool:
        return service.role_can(self.role, permission)


class LoginRequired(Exception):
    """Raised on pages so the app can redirect to the login form instead of a JSON 401."""


async def _check_csrf(request: Request, expected: str) -> None:
    supplied = request.headers.get("x-csrf-token")
    if supplied is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get("csrf_token")
        supplied = value if isinstance(value, str) else None
    if not supplied or not constant_time_equals(supplied, expected):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="CSRF token missing or invalid")


async def _api_key_principal(db: SessionDep, plain: str) -> Principal:
    key_hash = token_hash(plain)
    cached = api_key_cache.get(key_hash)  # a recent hit: no query, no thread-pool hop
    if cached is None:
        # The queries run in the thread pool like every sync route: on the event loop they
        # would stall all requests and, once the connection pool is exhausted, deadlock it.
        key = await run_in_threadpool(service.authenticate_api_key, db, plain)
        if key is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                detail="API key invalid or revoked",
                headers={"WWW-Authenticate": "Bearer"},
            )
        api_key_cache.put(key_hash, org_id=key.org_id, role=key.role, prefix=key.prefix)
        return Principal(org_id=key.org_id, role=key.role, actor=f"api_key:{key.prefix}")
    return Principal(org_id=cached.org_id, role=cached.role, actor=f"api_key:{cached.prefix}")


async def optional_principal(request: Request, db: SessionDep) -> Principal | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return await _api_key_principal(db, auth[7:].strip())
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    resolved = await run_in_threadpool(service.resolve_session, db, cookie)
    if resolved is None:
        return None
    user, web_session = resolved
    if request.method not in SAFE_METHODS:
        await _check_csrf(request, web_session.csrf_token)
    return Principal(
        org_id=user.org_id,
        role=user.role,
        actor=user.email,
        user_id=user.id,
        csrf_token=web_session.csrf_token,
        via="session",
    )


async def api_principal(principal: Annotated[Principal | None, Depends(optional_principal)]):
    if principal is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="authentication required: send 'Authorization: Bearer <API key>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return principal


async def page_principal(principal: Annotated[Principal | None, Depends(optional_principal)]):
    if principal is None:
        raise LoginRequired()
    return principal


def require(permission: str, *, page: bool = False):
    """Dependency factory: the caller must hold `permission` (403 otherwise)."""
    base = page_principal if page else api_principal

    # A default-value Depends: a closure variable cannot be resolved from a string annotation.
    async def checker(principal: Principal = Depends(base)) -> Principal:
        if not principal.can(permission):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                detail=f"role '{principal.role}' lacks permission '{permission}'",
            )
        return principal

    # Read by the generated role-matrix test: a route's minimum role comes from here.
    checker.permission = permission  # type: ignore[attr-defined]
    return checker


PrincipalDep = Annotated[Principal, Depends(api_principal)]
