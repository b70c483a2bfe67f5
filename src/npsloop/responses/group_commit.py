"""Group commit: concurrent requests hand their validated responses to a writer that stores
a whole batch in one transaction, and each request awaits its own outcome.

Under 64 concurrent clients the cost of ingest is not the INSERT but everything around it:
a transaction, a commit (an fsync), the rollup trigger's lock on the organisation's state
row (which serialises every writer of one organisation until its commit) and a thread-pool
hop per request. A batch pays each of them once.

Outcomes: `created` (the row is committed), `replay` (the idempotency key existed: the stored
row, as the slow path answers a replay) or `fallthrough` (nothing was written for it; the
request is handed to the ordinary route, which does the work itself or answers the error:
a replay of a partial response that must be completed, a database fault). A failed batch is
rolled back whole and retried one response per transaction, so one bad row fails only its
own request and no row is stored twice or lost after being acknowledged.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from npsloop.core.admission import AdmissionSlots
from npsloop.core.db import utcnow
from npsloop.responses import ingest_sql
from npsloop.responses.ingest_sql import NewResponse
from npsloop.responses.models import ResponseStatus

log = logging.getLogger(__name__)
MAX_BATCH = 256
POSTGRES_WRITERS = 2  # one fills its batch while the other waits for its commit


@dataclass(frozen=True)
class Outcome:
    kind: str  # "created" | "replay" | "fallthrough" | "failed"
    response: dict[str, Any] | None = None  # ResponseOut fields
    error: BaseException | None = None  # "failed": the commit's error, for the 5xx answer


FALL_THROUGH = Outcome("fallthrough")


class CommitFailed(Exception):
    """The COMMIT itself failed: the batch may or may not be stored (a connection lost
    during the commit). A response with an idempotency key is safely retried (its key
    tells); one without must not be, or it could be stored twice: it fails, as the route
    fails when its own commit does, and its client decides."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


def writer_count(session_factory: sessionmaker[Session]) -> int:
    """Two writers on PostgreSQL; one on SQLite (one writer at a time anyway) and when the
    factory is bound to a single connection (tests), which two threads cannot share."""
    bind = session_factory.kw.get("bind")
    if isinstance(bind, Engine) and bind.dialect.name == "postgresql":
        return POSTGRES_WRITERS
    return 1


class GroupCommit:
    def __init__(self, session_factory: sessionmaker[Session],
                 slots: AdmissionSlots | None = None) -> None:
        self.session_factory = session_factory
        self.slots = slots
        self.writers = writer_count(session_factory)
        self._executor = ThreadPoolExecutor(self.writers, thread_name_prefix="npsloop-ingest")
        self._queue: asyncio.Queue[tuple[NewResponse, asyncio.Future[Outcome]]] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def submit(self, row: NewResponse) -> Outcome:
        loop = asyncio.get_running_loop()
        if self._queue is None or self._loop is not loop:  # first use on this loop
            self._start(loop)
        assert self._queue is not None
        future: asyncio.Future[Outcome] = loop.create_future()
        self._queue.put_nowait((row, future))
        return await future

    def stop(self) -> None:
        """Ends the writer tasks (at the app's shutdown, once no request is in flight)."""
        for task in self._tasks:
            task.cancel()
        self._tasks, self._queue, self._loop = [], None, None

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._queue = asyncio.Queue()
        self._tasks = [loop.create_task(self._writer(self._queue), name=f"ingest-writer-{i}")
                       for i in range(self.writers)]

    async def _writer(self, queue: asyncio.Queue[tuple[NewResponse, asyncio.Future[Outcome]]]
                      ) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await queue.get()]
            # Whatever arrived while the previous batch was being written joins this one.
            while len(batch) < MAX_BATCH and not queue.empty():
                batch.append(queue.get_nowait())
            rows = [row for row, _ in batch]
            try:
                if self.slots is not None:
                    async with self.slots.semaphore():
                        outcomes = await loop.run_in_executor(self._executor, self.write, rows)
                else:
                    outcomes = await loop.run_in_executor(self._executor, self.write, rows)
            except BaseException as exc:  # noqa: BLE001 - every waiter must get an answer
                log.exception("ingest batch of %d failed", len(rows))
                outcomes = [FALL_THROUGH] * len(rows)
                if isinstance(exc, asyncio.CancelledError):
                    for _, future in batch:
                        if not future.done():
                            future.cancel()
                    raise
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if not future.done():  # its client may have gone away
                    future.set_result(outcome)

    # --- in the writer's thread ---------------------------------------------------------

    def write(self, rows: list[NewResponse]) -> list[Outcome]:
        """Stores a batch; on any error, each response again in a transaction of its own."""
        try:
            return self._write_batch(rows)
        except CommitFailed as exc:
            log.warning("ingest batch of %d: commit failed; retrying those with a key",
                        len(rows), exc_info=True)
            unsure: BaseException | None = exc.error
        except Exception:  # noqa: BLE001 - retried one by one below
            log.warning("ingest batch of %d rolled back; retrying one by one", len(rows),
                        exc_info=True)
            unsure = None
        outcomes = []
        for row in rows:
            if unsure is not None and row.key is None:
                outcomes.append(Outcome("failed", error=unsure))
                continue
            try:
                outcomes.extend(self._write_batch([row]))
            except CommitFailed as exc:
                outcomes.append(Outcome("failed", error=exc.error) if row.key is None
                                else FALL_THROUGH)
            except Exception:  # noqa: BLE001 - the ordinary route answers this one
                log.warning("ingest of one response failed; handing it to the route",
                            exc_info=True)
                outcomes.append(FALL_THROUGH)
        return outcomes

    def _write_batch(self, rows: list[NewResponse]) -> list[Outcome]:
        # Two posts with one key in a batch: the first is stored, the others replay it.
        first_of_key: dict[tuple[str, str, str], NewResponse] = {}
        unique: list[NewResponse] = []
        for row in rows:
            key = row.key
            if key is None or key not in first_of_key:
                unique.append(row)
                if key is not None:
                    first_of_key[key] = row
        with self.session_factory() as session:
            connection = session.connection()
            inserted = ingest_sql.insert_batch(connection, unique, utcnow())
            conflicts = [r.key for r in unique if r.id not in inserted and r.key is not None]
            existing = ingest_sql.existing_responses(connection, conflicts)  # type: ignore[arg-type]
            try:
                session.commit()
            except Exception as exc:
                raise CommitFailed(exc) from exc
        return [self._outcome(row, first_of_key, inserted, existing) for row in rows]

    @staticmethod
    def _outcome(row: NewResponse, first_of_key: dict[tuple[str, str, str], NewResponse],
                 inserted: set[str], existing: dict[tuple[str, str, str], dict[str, Any]]
                 ) -> Outcome:
        key = row.key
        first = first_of_key.get(key) if key is not None else row
        assert first is not None
        if first.id in inserted:
            if first is row:
                return Outcome("created", row.as_out())
            stored: dict[str, Any] | None = first.as_out()
        else:
            stored = existing.get(key) if key is not None else None
        if stored is None:  # not inserted and not found: let the route sort it out
            return FALL_THROUGH
        if stored["status"] == ResponseStatus.partial.value:
            return FALL_THROUGH  # the route completes a partial response on its replay
        return Outcome("replay", stored)
