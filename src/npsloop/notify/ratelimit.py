"""Per-robot rate limits shared by every worker, as a sliding log in one database row.

`reserve(session, key, limits)` takes a send slot or says how long to wait. The bucket row
is locked for the check-and-append: an UPDATE takes the row lock on PostgreSQL and the
database write lock on SQLite, so two workers can never both take the last slot.
A slot is spent when the request is made, whatever the vendor answers (vendors count
requests, not successes).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from npsloop.core.db import utcnow
from npsloop.notify.base import RateLimit
from npsloop.notify.models import RateBucket


def _ensure_row(session: Session, key: str) -> None:
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(
        insert(RateBucket)
        .values(key=key, sent_at=[], updated_at=utcnow())
        .on_conflict_do_nothing(index_elements=["key"])
    )


def wait_seconds(sent_at: Sequence[float], limits: Sequence[RateLimit], now: float) -> float:
    """0 when a send is allowed now, else the seconds until the oldest blocking send leaves
    its window."""
    wait = 0.0
    for limit in limits:
        window = sorted(t for t in sent_at if t > now - limit.per_seconds)
        if len(window) >= limit.count:
            expires = window[len(window) - limit.count] + limit.per_seconds
            wait = max(wait, expires - now)
    return wait


def reserve(session: Session, key: str, limits: Sequence[RateLimit]) -> float:
    """Takes a slot for `key` (returns 0) or returns the seconds to wait. Commits."""
    if not limits:
        return 0.0
    session.commit()  # start from a fresh transaction whose first statement is a write
    _ensure_row(session, key)
    session.execute(update(RateBucket).where(RateBucket.key == key)
                    .values(updated_at=utcnow()))  # the lock
    sent_at = session.scalar(select(RateBucket.sent_at).where(RateBucket.key == key)) or []
    now = time.time()  # read under the lock, so appended times never go back
    horizon = max(limit.per_seconds for limit in limits)
    recent = [float(t) for t in sent_at if float(t) > now - horizon]
    wait = wait_seconds(recent, limits, now)
    if wait <= 0:
        recent.append(now)
    session.execute(update(RateBucket).where(RateBucket.key == key).values(sent_at=recent))
    session.commit()
    return wait
