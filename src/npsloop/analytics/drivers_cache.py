"""A per-process cache of key driver analyses that never serves a stale answer.

Why: one analysis costs a pivot over up to 20,000 responses and 200 bootstrap resamples,
and the insights page and every dashboard widget ask for the same one again and again.

Key: (organisation, the normalised filter values, language, the analysis parameters, the
driver questions with their labels). The organisation is always part of the key, so one
tenant's entry can never answer another's request.

Freshness: every lookup first reads the organisation's data version
(analytics_rollup_state.data_version, one primary-key read), which the database triggers of
analytics.rollup_sql increment in the same transaction as every write to the
organisation's responses (ingest, completing a partial response, import, erasure,
anonymisation, retention, deletion, restore), their answers (a partial response gaining
answers) and its surveys (a survey moved to another touchpoint changes what a filter
matches). An entry is served only when the version it was computed at equals the current
one; otherwise it is recomputed and replaced. The version is read before the data, so an
entry is never labelled newer than what it was computed from. (Before, the check was a
fingerprint aggregate over the matching responses: exact as well, but a scan of all of
them, about 1.5 s at ten million.) Filters that depend on contact rows outside
`responses` (tags, segments, lifecycle stage, attribute snapshots) are not cached at all:
a contact edit does not move the version.

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
from typing import Any

from npsloop.analytics.filters import Filters

DEFAULT_MAX_ENTRIES = 256
DEFAULT_TTL_SECONDS = 600.0


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


class AnalysisCache:
    """Thread-safe LRU + TTL map from a key to (data version, value)."""

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES,
                 ttl_seconds: float = DEFAULT_TTL_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_entries = max_entries
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._entries: OrderedDict[Hashable, tuple[float, Hashable, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable, current: Hashable) -> Any | None:
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

    def put(self, key: Hashable, current: Hashable, value: Any) -> None:
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
