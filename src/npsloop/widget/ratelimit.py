"""A bound on the public widget calls, per site key and client address, in this process.

The widget endpoints are open to the web (the site key is public), so a loop in a customer's
page or a scraper must not be able to fill the events table. A sliding log per key in memory
is enough for that: every process enforces its own limit (N processes allow N times as
much), which bounds the damage without a database write per call. The number of tracked
keys is capped too, oldest first out, so the limiter itself cannot grow without bound.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque


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

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()
