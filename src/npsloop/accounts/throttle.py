"""Rate limits and login lockout for public endpoints, shared by every web process.

Counts live in the database (the `notify_rate_buckets` sliding-log table the notification
robots already use), not in process memory: several `npsloop serve` processes behind one
PostgreSQL see the same counts, and a restart does not reset an attacker's window. A bucket
row is locked for its check-and-append (an UPDATE takes the row lock on PostgreSQL and the
write lock on SQLite), so two processes cannot both take the last slot.

Buckets are named "<scope>:<who>"; `who` is an address, an account or a public key, hashed so
the table holds no personal data in clear. Other domains (the widget's decide endpoint) call
`enforce(...)` with their own scope.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from fastapi import HTTPException, Request, status
from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from npsloop.core.db import utcnow
from npsloop.notify.base import RateLimit
from npsloop.notify.models import RateBucket
from npsloop.notify.ratelimit import wait_seconds

__all__ = ["RateLimit", "Limited", "client_address", "hit", "peek", "clear", "enforce",
           "limit_widget_decide", "prune"]


@dataclass(frozen=True)
class Limited:
    """Over the limit: how long until the next attempt is allowed."""

    retry_after: float

    @property
    def retry_after_seconds(self) -> int:
        return max(1, math.ceil(self.retry_after))


def client_address(request: Request) -> str:
    """The peer address. Behind a reverse proxy, run uvicorn with --proxy-headers and
    --forwarded-allow-ips so this is the client's, not the proxy's."""
    return request.client.host if request.client else "unknown"


def bucket_key(scope: str, who: str) -> str:
    return f"{scope}:{hashlib.sha256(who.encode()).hexdigest()[:40]}"


def _locked_row(session: Session, key: str) -> list[float]:
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(insert(RateBucket).values(key=key, sent_at=[], updated_at=utcnow())
                    .on_conflict_do_nothing(index_elements=["key"]))
    session.execute(update(RateBucket).where(RateBucket.key == key)
                    .values(updated_at=utcnow()))  # takes the lock
    return [float(t) for t in session.scalar(
        select(RateBucket.sent_at).where(RateBucket.key == key)) or []]


def _check(session: Session, key: str, limits: Sequence[RateLimit], *, record: bool,
           record_when_limited: bool = False) -> Limited | None:
    session.commit()  # the caller's pending work is its own; start a fresh transaction
    limited = _count(session, key, limits, record=record,
                     record_when_limited=record_when_limited)
    session.commit()
    return limited


def _count(session: Session, key: str, limits: Sequence[RateLimit], *, record: bool,
           record_when_limited: bool = False) -> Limited | None:
    """`_check` inside the caller's transaction (which must commit soon: the row stays
    locked until then)."""
    recent_all = _locked_row(session, key)
    now = time.time()
    horizon = max(limit.per_seconds for limit in limits)
    recent = [t for t in recent_all if t > now - horizon]
    wait = wait_seconds(recent, limits, now)
    if record and (wait <= 0 or record_when_limited):
        recent.append(now)
    session.execute(update(RateBucket).where(RateBucket.key == key).values(sent_at=recent))
    return Limited(wait) if wait > 0 else None


def hit(session: Session, scope: str, who: str, limits: Sequence[RateLimit]) -> Limited | None:
    """Counts one attempt; None if it was within the limits, else how long to wait (the
    refused attempt is not counted, so a client that waits as told gets through)."""
    if not limits:
        return None
    return _check(session, bucket_key(scope, who), limits, record=True)


def peek(session: Session, scope: str, who: str, limits: Sequence[RateLimit]) -> Limited | None:
    """Whether the limits are already reached, without counting an attempt."""
    if not limits:
        return None
    return _check(session, bucket_key(scope, who), limits, record=False)


def clear(session: Session, scope: str, who: str) -> None:
    session.execute(delete(RateBucket).where(RateBucket.key == bucket_key(scope, who)))
    session.commit()


def enforce(request: Request, session: Session, scope: str,
            per_address: Sequence[RateLimit] = (), per_key: Sequence[RateLimit] = (),
            key: str | None = None) -> None:
    """Raises 429 (with Retry-After) when the caller's address, or the public key it uses
    (a survey token, a widget key), is over its limits for `scope`."""
    checks = [(f"{scope}:addr", client_address(request), per_address)]
    if key is not None:
        checks.append((f"{scope}:key", key, per_key))
    # Every bucket in one transaction (one commit, not one per bucket: a commit is a disk
    # flush on PostgreSQL), always in this order, so two requests cannot deadlock; as
    # `hit` each, and the first bucket over its limit stops the count.
    session.commit()
    limited = None
    for bucket_scope, who, limits in checks:
        if limits:
            limited = _count(session, bucket_key(bucket_scope, who), limits, record=True)
            if limited is not None:
                break
    session.commit()
    if limited is not None:
        raise too_many(limited, scope)


def too_many(limited: Limited, scope: str) -> HTTPException:
    return HTTPException(
        status.HTTP_429_TOO_MANY_REQUESTS,
        detail=f"too many requests to {scope}; retry in {limited.retry_after_seconds} s",
        headers={"Retry-After": str(limited.retry_after_seconds)},
    )


def per_minute(count: int) -> list[RateLimit]:
    """One window of a minute, or none when the limit is switched off (0)."""
    return [RateLimit(count, 60.0)] if count > 0 else []


def limit_widget_decide(request: Request, session: Session, widget_key: str) -> None:
    """The hook for the widget's public decide endpoint: 429 when one address, or one
    widget key across all addresses (ten times the per-address budget), asks too often."""
    per_address = request.app.state.settings.widget_decides_per_minute
    enforce(request, session, "widget-decide", per_address=per_minute(per_address),
            per_key=per_minute(per_address * 10), key=widget_key)


def prune(session: Session, *, idle_seconds: float, now: datetime | None = None) -> int:
    """Deletes the buckets nobody touched for `idle_seconds` (every check and every robot
    send stamps `updated_at`); returns how many. A bucket idle for longer than the longest
    window in use holds only expired times, so deleting it changes no answer: the caller
    passes at least that window. The caller commits."""
    cutoff = (now or utcnow()) - timedelta(seconds=idle_seconds)
    result = session.execute(delete(RateBucket).where(RateBucket.updated_at < cutoff)
                             .execution_options(synchronize_session=False))
    return int(result.rowcount or 0)
