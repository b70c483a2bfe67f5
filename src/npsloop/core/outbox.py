"""Transactional outbox: follow-up work is written with the change that causes it.

A domain calls `emit(session, topic, payload)` inside its own transaction; handlers
subscribe with `@subscribe(topic)`. A worker claims due rows (SKIP LOCKED on PostgreSQL,
a conditional UPDATE on SQLite), runs every handler, and retries with exponential backoff.
A domain may also register `@prepare(topic)`: called once with all the claimed events of
that topic before they are handled one by one, to do batched work up front (text mining
embeds the batch's comments in one call). Preparing is an optimisation only: its failure is
logged and the events are handled as usual.
`core` knows no domain: domains register handlers when their module is imported.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Text, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from npsloop.core.db import Base, IdMixin, UTCDateTime, new_id, utcnow

log = logging.getLogger(__name__)

Handler = Callable[[Session, "OutboxEvent"], None]
Preparer = Callable[[Session, list["OutboxEvent"]], None]
_handlers: dict[str, list[Handler]] = defaultdict(list)
_preparers: dict[str, list[Preparer]] = defaultdict(list)
MAX_ATTEMPTS = 8


class OutboxEvent(IdMixin, Base):
    __tablename__ = "outbox_events"
    __table_args__ = (Index("ix_outbox_events_status_available", "status", "available_at"),)

    org_id: Mapped[str] = mapped_column(String(32))
    topic: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|done|dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    available_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    locked_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


def subscribe(topic: str) -> Callable[[Handler], Handler]:
    def register(func: Handler) -> Handler:
        if func not in _handlers[topic]:
            _handlers[topic].append(func)
        return func

    return register


def prepare(topic: str) -> Callable[[Preparer], Preparer]:
    def register(func: Preparer) -> Preparer:
        if func not in _preparers[topic]:
            _preparers[topic].append(func)
        return func

    return register


def _prepare(factory: sessionmaker[Session], ids: list[str]) -> None:
    """Calls each preparer once with the claimed events of all the topics it prepares."""
    with factory() as session:
        events = list(session.scalars(select(OutboxEvent).where(OutboxEvent.id.in_(ids))))
        batches: dict[Preparer, list[OutboxEvent]] = {}
        for event in events:
            for func in _preparers.get(event.topic, []):
                batches.setdefault(func, []).append(event)
        for func, batch in batches.items():
            try:
                func(session, batch)
            except Exception:  # noqa: BLE001 - the handlers still do the work
                log.exception("outbox prepare %s failed", func.__name__)
        session.rollback()  # preparing only reads


def emit(session: Session, *, org_id: str, topic: str, payload: dict[str, Any]) -> OutboxEvent:
    event = OutboxEvent(org_id=org_id, topic=topic, payload=payload)
    session.add(event)
    return event


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(2**attempts, 3600))


def claim(session: Session, worker_id: str, limit: int = 20, lease_s: int = 60) -> list[str]:
    """Lease up to `limit` due events to this worker; returns their ids."""
    now = utcnow()
    due = (
        select(OutboxEvent.id)
        .where(OutboxEvent.status == "pending", OutboxEvent.available_at <= now)
        .where((OutboxEvent.locked_until.is_(None)) | (OutboxEvent.locked_until < now))
        .order_by(OutboxEvent.created_at)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    ids = list(session.scalars(due))
    if not ids:
        session.commit()
        return []
    lease = now + timedelta(seconds=lease_s)
    # The WHERE repeats the lease test so that on SQLite two workers cannot both win a row.
    result = session.execute(
        update(OutboxEvent)
        .where(OutboxEvent.id.in_(ids))
        .where((OutboxEvent.locked_until.is_(None)) | (OutboxEvent.locked_until < now))
        .values(locked_by=worker_id, locked_until=lease)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    if result.rowcount != len(ids):
        ids = list(
            session.scalars(
                select(OutboxEvent.id).where(
                    OutboxEvent.id.in_(ids), OutboxEvent.locked_by == worker_id,
                    OutboxEvent.locked_until == lease,
                )
            )
        )
    return ids


def process(factory: sessionmaker[Session], event_id: str) -> None:
    with factory() as session:
        event = session.get(OutboxEvent, event_id)
        if event is None or event.status != "pending":
            return
        try:
            for handler in _handlers.get(event.topic, []):
                handler(session, event)
            event.status = "done"
            event.done_at = utcnow()
            event.attempts += 1
            event.locked_until = None
            session.commit()
        except Exception as exc:  # noqa: BLE001 - any handler failure is retried
            session.rollback()
            log.exception("outbox event %s (%s) failed", event_id, event.topic)
            event = session.get(OutboxEvent, event_id)
            if event is None:
                return
            event.attempts += 1
            event.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            event.locked_until = None
            if event.attempts >= MAX_ATTEMPTS:
                event.status = "dead"
            else:
                event.available_at = utcnow() + _backoff(event.attempts)
            session.commit()


def run_once(factory: sessionmaker[Session], worker_id: str | None = None) -> int:
    worker_id = worker_id or f"{socket.gethostname()}-{new_id()[:8]}"
    with factory() as session:
        ids = claim(session, worker_id)
    if ids and _preparers:
        _prepare(factory, ids)
    for event_id in ids:
        process(factory, event_id)
    return len(ids)


class WorkerThread(threading.Thread):
    """The in-process worker `npsloop serve` runs on a single machine."""

    def __init__(self, factory: sessionmaker[Session], interval: float = 1.0) -> None:
        super().__init__(name="npsloop-worker", daemon=True)
        self.factory = factory
        self.interval = interval
        self.stopping = threading.Event()
        self.worker_id = f"{socket.gethostname()}-inproc-{new_id()[:6]}"

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                handled = run_once(self.factory, self.worker_id)
            except Exception:  # noqa: BLE001 - the loop must survive a DB hiccup
                log.exception("worker loop error")
                handled = 0
            if not handled:
                self.stopping.wait(self.interval)

    def stop(self) -> None:
        self.stopping.set()
