"""What the fast ingest path looks up on every post, kept for a few seconds: API key ->
organisation and role (the process-wide accounts.key_cache, shared with the ordinary route,
so a revocation through this process is seen at once), survey -> languages and questions.

A refill is single-flight: when an entry expires under 64 concurrent clients, one lookup
runs and the others await it instead of sending 64 identical queries through the thread
pool at once (a latency spike every TTL). With a connection pool behind the factory, an
entry close to its expiry is also refreshed in the background while it is still served, so
no request waits at all. A survey (or question) changed through this process's ORM is
forgotten when that change commits; one edited by another process reaches this one within
SURVEY_TTL_SECONDS, as a revoked key does (and a driver added meanwhile is not refused: an
unknown driver sends the post to the ordinary route).
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session, selectinload, sessionmaker
from starlette.concurrency import run_in_threadpool

from npsloop.accounts import service as accounts
from npsloop.accounts.key_cache import CachedKey, api_key_cache
from npsloop.core.admission import AdmissionSlots
from npsloop.core.security import token_hash
from npsloop.surveys.models import Question, Survey

log = logging.getLogger(__name__)
SURVEY_TTL_SECONDS = 5.0
REFRESH_AHEAD_SECONDS = 1.0
MAX_SURVEYS = 10_000


@dataclass(frozen=True)
class QuestionSnapshot:
    key: str
    kind: str
    options: list[dict[str, Any]]


@dataclass(frozen=True)
class SurveySnapshot:
    """The attributes service.validate_response reads from a Survey (its SurveyShape)."""

    id: str
    org_id: str
    default_language: str
    languages: list[str]
    questions: list[QuestionSnapshot] = field(default_factory=list)


class SingleFlight:
    """At most one running load per key; callers of a key being loaded await that load."""

    def __init__(self) -> None:
        self._flights: dict[Hashable, asyncio.Future[Any]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self, key: Hashable, load: Callable[[], Awaitable[Any]]) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # a test client may run the app on a new loop
            self._flights, self._loop = {}, loop
        flight = self._flights.get(key)
        if flight is None:
            flight = asyncio.ensure_future(load())
            self._flights[key] = flight
            flight.add_done_callback(lambda done: self._landed(key, done))
        return flight

    def _landed(self, key: Hashable, flight: asyncio.Future[Any]) -> None:
        self._flights.pop(key, None)
        # A background refresh has no waiter: its error would go unretrieved (and unlogged).
        if not flight.cancelled() and flight.exception() is not None:
            log.warning("ingest lookup %s failed: %r", key[0] if isinstance(key, tuple)
                        else key, flight.exception())

    async def run(self, key: Hashable, load: Callable[[], Awaitable[Any]]) -> Any:
        # Shielded: one waiter going away must not cancel the load the others await.
        return await asyncio.shield(self.start(key, load))


class IngestLookups:
    def __init__(self, session_factory: sessionmaker[Session],
                 slots: AdmissionSlots | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.session_factory = session_factory
        self.slots = slots
        self.clock = clock
        self.flights = SingleFlight()
        self._surveys: dict[tuple[str, str], tuple[SurveySnapshot | None, float]] = {}
        # Background refreshes need a pool: a factory bound to one connection (tests)
        # cannot serve a refresh and a request's writer at the same time.
        self.refresh_ahead = isinstance(session_factory.kw.get("bind"), Engine)
        _lookups.add(self)
        install_listeners()

    async def _in_thread(self, func: Callable[[], Any]) -> Any:
        if self.slots is None:
            return await run_in_threadpool(func)
        async with self.slots.semaphore():  # it takes a connection like a request does
            return await run_in_threadpool(func)

    def _stale_soon(self, expires_at: float) -> bool:
        return self.refresh_ahead and expires_at - self.clock() < REFRESH_AHEAD_SECONDS

    # --- API keys -----------------------------------------------------------------------

    async def api_key(self, plain: str) -> CachedKey | None:
        """The valid key's organisation and role, or None (unknown or revoked)."""
        key_hash = token_hash(plain)
        entry = api_key_cache.get(key_hash)
        if entry is None:
            return await self.flights.run(("key", key_hash),
                                          lambda: self._load_key(plain, key_hash))
        if self._stale_soon(entry.expires_at):
            self.flights.start(("key", key_hash), lambda: self._load_key(plain, key_hash))
        return entry

    async def _load_key(self, plain: str, key_hash: str) -> CachedKey | None:
        def lookup() -> tuple[str, str, str] | None:
            with self.session_factory() as session:
                key = accounts.authenticate_api_key(session, plain)
                return (key.org_id, key.role, key.prefix) if key is not None else None

        found = await self._in_thread(lookup)
        if found is None:
            api_key_cache.discard(key_hash)
            return None
        org_id, role, prefix = found
        api_key_cache.put(key_hash, org_id=org_id, role=role, prefix=prefix)
        return api_key_cache.get(key_hash)

    # --- surveys ------------------------------------------------------------------------

    async def survey(self, org_id: str, survey_id: str) -> SurveySnapshot | None:
        """The organisation's survey, or None when it has none of that id (not cached)."""
        key = (org_id, survey_id)
        cached = self._surveys.get(key)
        if cached is None or cached[1] <= self.clock():
            return await self.flights.run(("survey", key), lambda: self._load_survey(key))
        if self._stale_soon(cached[1]):
            self.flights.start(("survey", key), lambda: self._load_survey(key))
        return cached[0]

    async def _load_survey(self, key: tuple[str, str]) -> SurveySnapshot | None:
        org_id, survey_id = key

        def lookup() -> SurveySnapshot | None:
            with self.session_factory() as session:
                survey = session.scalar(
                    select(Survey).where(Survey.id == survey_id, Survey.org_id == org_id)
                    .options(selectinload(Survey.questions)))
                if survey is None:
                    return None
                return SurveySnapshot(
                    id=survey.id, org_id=survey.org_id,
                    default_language=survey.default_language,
                    languages=list(survey.languages),
                    questions=[QuestionSnapshot(q.key, q.kind, list(q.options or []))
                               for q in survey.questions])

        snapshot = await self._in_thread(lookup)
        if snapshot is None:
            self._surveys.pop(key, None)
            return None
        if key not in self._surveys and len(self._surveys) >= MAX_SURVEYS:
            self._surveys.pop(next(iter(self._surveys)), None)  # drop the oldest
        self._surveys[key] = (snapshot, self.clock() + SURVEY_TTL_SECONDS)
        return snapshot

    def forget_survey(self, survey_id: str) -> None:
        for key in [k for k in self._surveys if k[1] == survey_id]:
            self._surveys.pop(key, None)


# --- forgetting surveys edited through this process ----------------------------------

_lookups: weakref.WeakSet[IngestLookups] = weakref.WeakSet()
_EDITED = "npsloop.ingest_cache.edited_surveys"


def _note_edits(session: Session, _context: object) -> None:
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, Survey):
            session.info.setdefault(_EDITED, set()).add(obj.id)
        elif isinstance(obj, Question):
            session.info.setdefault(_EDITED, set()).add(obj.survey_id)


def _forget_edited(session: Session) -> None:
    # After the commit: a refill between the flush and the commit would read the old rows.
    for survey_id in session.info.pop(_EDITED, ()):
        for lookups in list(_lookups):
            lookups.forget_survey(survey_id)


def _drop_notes(session: Session, _previous: object = None) -> None:
    session.info.pop(_EDITED, None)


def install_listeners() -> None:
    if not event.contains(Session, "after_flush", _note_edits):
        event.listen(Session, "after_flush", _note_edits)
        event.listen(Session, "after_commit", _forget_edited)
        event.listen(Session, "after_soft_rollback", _drop_notes)
