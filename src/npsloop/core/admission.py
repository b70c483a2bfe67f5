"""Admission control: at most as many requests in flight as the connection pool can serve.

A request holds its database connection across thread-pool hops (the auth dependency, the
route, the session's close). With more requests in flight than connections, every thread
can end up waiting for a connection held by a request that is itself waiting for a thread:
nothing moves until the pool's timeout fails them all. Queueing the excess requests here,
on the event loop, before they take a thread or a connection, keeps a burst of clients (a
campaign's link clicked by thousands at once) at full speed instead of stalling it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import Connection, Engine

Scope = dict[str, Any]
# Connections kept for the in-process workers (outbox, delivery, ticket clock).
RESERVED_FOR_WORKERS = 3


def pool_capacity(bind: Engine | Connection) -> int | None:
    """How many requests may hold a connection at once (pool size + overflow - reserve);
    None for pools without a bound (NullPool, StaticPool, unlimited overflow)."""
    pool = bind.engine.pool
    size, overflow = getattr(pool, "size", None), getattr(pool, "_max_overflow", None)
    if not callable(size) or not isinstance(overflow, int) or overflow < 0:
        return None
    return max(2, size() + overflow - RESERVED_FOR_WORKERS)


class AdmissionSlots:
    """The slots themselves, shared by the middleware and by work that takes a connection
    outside a request's own path (the group-commit writers of responses/group_commit.py)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._semaphore: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def semaphore(self) -> asyncio.Semaphore:
        # Created inside the running loop; a test client may run the app on a new loop.
        loop = asyncio.get_running_loop()
        if self._semaphore is None or self._loop is not loop:
            self._semaphore, self._loop = asyncio.Semaphore(self.limit), loop
        return self._semaphore


class AdmissionMiddleware:
    """Pure ASGI middleware; static files and health checks are never queued."""

    def __init__(self, app: Any, limit: int = 0,
                 exempt: tuple[str, ...] = ("/static/", "/healthz"),
                 slots: AdmissionSlots | None = None) -> None:
        self.app = app
        self.slots = slots or AdmissionSlots(limit)
        self.limit = self.slots.limit
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.exempt):
            await self.app(scope, receive, send)
            return
        async with self.slots.semaphore():
            await self.app(scope, receive, send)
