"""A per-process cache of key driver analyses that never serves a stale answer.

Why: one analysis costs a pivot over up to 20,000 responses and 200 bootstrap resamples,
and the insights page and every dashboard widget ask for the same one again and again.

Key: (organisation, the normalised filter values, language, the analysis parameters, the
driver questions with their labels). The organisation is always part of the key, so one
tenant's entry can never answer another's request.

Freshness: every lookup first reads a data fingerprint of the responses that match the
filters, in ONE aggregate query (the one the analysis needs anyway for its count): how
many match, the newest created_at and completed_at, the sum of scores, how many still carry
a contact link or a comment, and how many are partial; only when some are partial, a
second query counts their answers.
Writes change it as follows:
  - ingest adds a row (count, newest created_at); completing a partial response sets
    completed_at and may change the score; a partial one gaining answers changes the
    partial answer count;
  - deleting responses (retention, survey or organisation deletion) lowers the count;
  - privacy erasure and retention keep the rows but drop the contact link, the attribute
    snapshot and the comment (the linked and commented counts fall).
An entry is served only when its stored fingerprint equals the current one; otherwise it
is recomputed and replaced. Filters that depend on contact rows outside `responses`
(tags, segments, lifecycle stage, attribute snapshots) are not cached at all: a contact
edit would not show in the fingerprint.

Bounds: at most `max_entries` entries (least recently used dropped first) and each lives
at most `ttl_seconds`. A lock makes it safe under the threaded server. Each worker process
keeps its own cache (no shared state): with several processes a first request per process
computes once, and correctness never depends on which process answers.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from npsloop.analytics.filters import Filters, apply_filters
from npsloop.responses.models import Response, ResponseAnswer, ResponseStatus

DEFAULT_MAX_ENTRIES = 256
DEFAULT_TTL_SECONDS = 600.0


@dataclass(frozen=True)
class Fingerprint:
    matching: int
    newest_created: str | None
    newest_completed: str | None
    score_sum: int
    linked: int
    commented: int
    partial_answers: int


def cacheable(filters: Filters) -> bool:
    """Filters whose matching set and values live only in `responses` and `surveys`."""
    return not (filters.attributes or filters.tags or filters.segment_id
                or filters.segment_clause is not None or filters.lifecycle_stage)


def filter_key(filters: Filters) -> tuple[Hashable, ...]:
    """The filter values that decide the result, in a fixed order (not the URL's order)."""
    return (filters.survey_id,
            filters.date_from.isoformat() if filters.date_from else None,
            filters.date_to.isoformat() if filters.date_to else None,
            filters.nps_type, filters.channel, filters.language, filters.touchpoint,
            filters.journey_stage, filters.status)


def fingerprint(session: Session, *, org_id: str, filters: Filters) -> Fingerprint:
    partial = Response.status == ResponseStatus.partial.value
    query = select(
        func.count(),
        func.max(Response.created_at),
        func.max(Response.completed_at),
        func.coalesce(func.sum(Response.score), 0),
        func.count(Response.contact_id),
        func.count(func.nullif(Response.comment, "")),
        func.count(case((partial, 1))),
    ).select_from(Response)
    row = session.execute(apply_filters(query, org_id, filters)).one()
    count, created, completed, score_sum, linked, commented, partials = row
    partial_answers = 0
    if partials:
        # Only a partial response gains answers in place (the follow-up submit), without
        # changing any column above: count their answers, a second query only then.
        answers = (select(func.count()).select_from(Response)
                   .join(ResponseAnswer, ResponseAnswer.response_id == Response.id)
                   .where(partial, ResponseAnswer.org_id == org_id))
        partial_answers = session.scalar(apply_filters(answers, org_id, filters)) or 0
    return Fingerprint(int(count or 0), created.isoformat() if created else None,
                       completed.isoformat() if completed else None, int(score_sum or 0),
                       int(linked or 0), int(commented or 0), int(partial_answers))


class AnalysisCache:
    """Thread-safe LRU + TTL map from a key to (fingerprint, value)."""

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES,
                 ttl_seconds: float = DEFAULT_TTL_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_entries = max_entries
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._entries: OrderedDict[Hashable, tuple[float, Fingerprint, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable, current: Fingerprint) -> Any | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[1] != current \
                    or self._clock() - entry[0] > self.ttl_seconds:
                if entry is not None:
                    del self._entries[key]
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry[2]

    def put(self, key: Hashable, current: Fingerprint, value: Any) -> None:
        with self._lock:
            self._entries[key] = (self._clock(), current, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)
