"""A bound on the public widget calls, per site key and client address, in this process.

The widget endpoints are open to the web (the site key is public), so a loop in a customer's
page or a scraper must not be able to fill the events table. Two layers:

  - this one, in memory: a sliding log per key, checked before anything touches the
    database, so a flood from one address costs no query at all. Every process enforces it
    on its own (N processes allow N times as much);
  - the shared one (`accounts.throttle.limit_widget_decide`, rows in the database) for the
    calls that decide (identify, track): one budget per address and per key across every
    process, at the price of a locked row update per call.

Keys whose calls have all left the window are dropped as calls come in (the least recently
used first), and the number of keys is capped too, so the limiter cannot grow without bound.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque

# Keys looked at (from the least recently used end) for expiry on each call: enough to
# keep up with any rate of new keys, constant work per call.
PRUNE_PER_HIT = 4


class SlidingWindow:
    def __init__(self, limit: int, per_seconds: float, max_keys: int = 20_000) -> None:
        self.limit = limit
        self.per_seconds = per_seconds
        self.max_keys = max_keys
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def hit(self, key: str, now: float | None = None) -> float:
        """Counts a call for `key`: 0 when allowed, else the seconds until one is."""
        now = time.monotonic() if now is None else now
        with self._lock:
            self._drop_expired(now, PRUNE_PER_HIT)
            hits = self._hits.get(key)
            if hits is None:
                hits = self._hits[key] = deque()
                while len(self._hits) > self.max_keys:
                    self._hits.popitem(last=False)
            else:
                self._hits.move_to_end(key)
            while hits and hits[0] <= now - self.per_seconds:
                hits.popleft()
            if len(hits) >= self.limit:
                return hits[0] + self.per_seconds - now
            hits.append(now)
            return 0.0

    def _drop_expired(self, now: float, at_most: int | None) -> int:
        """Drops least recently used keys whose every call has left the window; stops at
        the first key still in use (the ones after it were used more recently)."""
        dropped = 0
        while self._hits and (at_most is None or dropped < at_most):
            key, hits = next(iter(self._hits.items()))
            if hits and hits[-1] > now - self.per_seconds:
                break
            del self._hits[key]
            dropped += 1
        return dropped

    def prune(self, now: float | None = None) -> int:
        """Drops every expired key at the old end now; returns how many."""
        with self._lock:
            return self._drop_expired(time.monotonic() if now is None else now, None)

    def __len__(self) -> int:
        return len(self._hits)

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()
