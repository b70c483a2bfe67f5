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


class AdmissionMiddleware:
    """Pure ASGI middleware; static files and health checks are never queued."""

    def __init__(self, app: Any, limit: int, exempt: tuple[str, ...] = ("/static/", "/healthz")
                 ) -> None:
        self.app = app
        self.limit = limit
        self.exempt = exempt
        self._semaphore: asyncio.Semaphore | None = None

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.exempt):
            await self.app(scope, receive, send)
            return
        if self._semaphore is None:  # created inside the running loop
            self._semaphore = asyncio.Semaphore(self.limit)
        async with self._semaphore:
            await self.app(scope, receive, send)
