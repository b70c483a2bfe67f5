"""A short-lived, in-process memory of valid API keys, so an integration posting hundreds of
responses a second does not look its key up in the database on every request.

Only valid keys are remembered (an unknown or revoked key is always checked against the
database, so a key created a moment ago works at once). A revocation through this process
forgets the key immediately; one made by another process of the same deployment takes
effect within TTL_SECONDS, when the entry expires and the next request reads the row again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

TTL_SECONDS = 5.0
MAX_ENTRIES = 10_000


@dataclass(frozen=True)
class CachedKey:
    org_id: str
    role: str
    prefix: str
    expires_at: float


class ApiKeyCache:
    """Keyed by the key's SHA-256 (never the plain key); safe to share between threads."""

    def __init__(self, ttl: float = TTL_SECONDS, clock: Callable[[], float] = time.monotonic,
                 max_entries: int = MAX_ENTRIES) -> None:
        self.ttl = ttl
        self.clock = clock
        self.max_entries = max_entries
        self._entries: dict[str, CachedKey] = {}
        self._lock = threading.Lock()

    def get(self, key_hash: str) -> CachedKey | None:
        entry = self._entries.get(key_hash)
        if entry is None:
            return None
        if entry.expires_at <= self.clock():
            self.discard(key_hash)
            return None
        return entry

    def put(self, key_hash: str, *, org_id: str, role: str, prefix: str) -> None:
        entry = CachedKey(org_id=org_id, role=role, prefix=prefix,
                          expires_at=self.clock() + self.ttl)
        with self._lock:
            if key_hash not in self._entries and len(self._entries) >= self.max_entries:
                # Full: drop the oldest entry (dicts keep insertion order); it is re-read later.
                self._entries.pop(next(iter(self._entries)), None)
            self._entries[key_hash] = entry

    def discard(self, key_hash: str) -> None:
        with self._lock:
            self._entries.pop(key_hash, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


# One per process: every app in the process authenticates against the same key rows.
api_key_cache = ApiKeyCache()
