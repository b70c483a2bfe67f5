"""Behaviour events: what a contact did ("order_paid"), sent by the customer's systems.

Rules (also in the API docs):
- an event names its contact by `contact_external_id`; an unknown contact is created with
  just that id (unknown_contact="create", the default: a first purchase may arrive before the
  CRM sync) or the whole request is rejected (unknown_contact="reject");
- an optional `event_id` makes a resend harmless: an id already stored is skipped and
  counted as a duplicate, never stored twice;
- a batch is all-or-nothing: any invalid event is a 422 listing each (index, field, reason)
  and nothing is stored;
- stored events are announced on the outbox as one `contact.events_recorded` per request
  (payload: the events' id, contact_id, name, occurred_at), for automatic triggers.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from npsloop.contacts.models import Event
from npsloop.contacts.service import (
    IN_CHUNK,
    ContactChange,
    ContactError,
    FieldError,
    apply_changes,
    contacts_by_external_id,
)
from npsloop.core.db import utcnow
from npsloop.core.outbox import emit

NAME_RE = re.compile(r"^[\w.:-]{1,100}$")
MAX_PROPERTIES_BYTES = 8000
FUTURE_SLACK = timedelta(minutes=5)
TOPIC = "contact.events_recorded"


@dataclass
class EventInput:
    contact_external_id: str
    name: str
    properties: dict[str, Any] = field(default_factory=dict)
    timestamp: datetime | None = None
    event_id: str | None = None


@dataclass
class EventResult:
    accepted: int = 0
    duplicates: int = 0
    contacts_created: int = 0
    event_ids: list[str] = field(default_factory=list)


def _check(item: EventInput, index: int, prefix: str, now: datetime) -> list[FieldError]:
    where = f"{prefix}{index}." if prefix else ""
    errors = []
    if not item.contact_external_id.strip() or len(item.contact_external_id) > 200:
        errors.append(FieldError(f"{where}contact_external_id", "must be 1-200 characters"))
    if not NAME_RE.match(item.name):
        errors.append(FieldError(
            f"{where}name", "must be 1-100 letters, digits or _ . : - (e.g. order_paid)"))
    if item.timestamp is not None:
        if item.timestamp.tzinfo is None:
            errors.append(FieldError(f"{where}timestamp",
                                     "must include a time zone offset, e.g. +08:00 or Z"))
        elif item.timestamp > now + FUTURE_SLACK:
            errors.append(FieldError(f"{where}timestamp", "is in the future"))
    if len(json.dumps(item.properties, ensure_ascii=False, default=str)) > MAX_PROPERTIES_BYTES:
        errors.append(FieldError(f"{where}properties",
                                 f"are larger than {MAX_PROPERTIES_BYTES} bytes as JSON"))
    return errors


def _stored_keys(session: Session, org_id: str, keys: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(keys), IN_CHUNK):
        found |= set(session.scalars(select(Event.event_key).where(
            Event.org_id == org_id, Event.event_key.in_(keys[start:start + IN_CHUNK]))))
    return found


def record_events(
    session: Session,
    *,
    org_id: str,
    items: list[EventInput],
    unknown_contact: str = "create",
    source: str = "api",
    error_prefix: str = "events.",
) -> EventResult:
    """Validates and stores a batch (flushes; the caller commits). ContactError lists every
    bad event; nothing is stored then."""
    now = utcnow()
    errors = [e for i, item in enumerate(items) for e in _check(item, i, error_prefix, now)]
    if errors:
        raise ContactError(errors)
    result = EventResult()
    keys = [i.event_id for i in items if i.event_id]
    seen = _stored_keys(session, org_id, sorted(set(keys))) if keys else set()
    fresh: list[EventInput] = []
    for item in items:
        if item.event_id and item.event_id in seen:
            result.duplicates += 1
            continue
        if item.event_id:
            seen.add(item.event_id)
        fresh.append(item)
    contacts = contacts_by_external_id(
        session, org_id=org_id, external_ids=(i.contact_external_id for i in fresh))
    missing = sorted({i.contact_external_id for i in fresh} - contacts.keys())
    if missing and unknown_contact == "reject":
        raise ContactError([
            FieldError(f"{error_prefix}{index}.contact_external_id" if error_prefix
                       else "contact_external_id",
                       f"unknown contact '{item.contact_external_id}' (unknown_contact=reject)")
            for index, item in enumerate(items) if item.contact_external_id in missing])
    if missing:
        created = apply_changes(session, org_id=org_id,
                                changes=[ContactChange(external_id=m) for m in missing])
        contacts.update({c.external_id: c for c, _ in created})
        result.contacts_created = len(missing)
    rows = [
        Event(org_id=org_id, contact_id=contacts[i.contact_external_id].id, name=i.name,
              properties=i.properties, occurred_at=(i.timestamp or now).astimezone(UTC),
              event_key=i.event_id, source=source)
        for i in fresh
    ]
    _insert(session, rows, result)
    if result.event_ids:
        stored = {r.id: r for r in rows}
        emit(session, org_id=org_id, topic=TOPIC, payload={"events": [
            {"id": eid, "contact_id": stored[eid].contact_id, "name": stored[eid].name,
             "occurred_at": stored[eid].occurred_at.isoformat()} for eid in result.event_ids]})
    return result


def _insert(session: Session, rows: list[Event], result: EventResult) -> None:
    try:
        with session.begin_nested():
            session.add_all(rows)
            session.flush()
        result.accepted += len(rows)
        result.event_ids += [r.id for r in rows]
        return
    except IntegrityError:
        pass
    # A concurrent request stored one of these event ids: keep the others, one by one.
    for row in rows:
        copy = Event(org_id=row.org_id, contact_id=row.contact_id, name=row.name,
                     properties=row.properties, occurred_at=row.occurred_at,
                     event_key=row.event_key, source=row.source, id=row.id)
        try:
            with session.begin_nested():
                session.add(copy)
                session.flush()
            result.accepted += 1
            result.event_ids.append(copy.id)
        except IntegrityError:
            result.duplicates += 1


def count_events(
    session: Session, *, org_id: str, contact_id: str, name: str, since: datetime | None = None
) -> int:
    """How often the contact did `name` since `since` (an index range scan)."""
    query = select(func.count()).select_from(Event).where(
        Event.contact_id == contact_id, Event.name == name, Event.org_id == org_id)
    if since is not None:
        query = query.where(Event.occurred_at >= since)
    return session.scalar(query) or 0


def recent_events(
    session: Session, *, org_id: str, contact_id: str, limit: int = 50, before: datetime | None
    = None,
) -> list[Event]:
    query = select(Event).where(Event.org_id == org_id, Event.contact_id == contact_id)
    if before is not None:
        query = query.where(Event.occurred_at < before)
    return list(session.scalars(query.order_by(Event.occurred_at.desc(), Event.id).limit(limit)))


def event_names(session: Session, *, org_id: str, limit: int = 200) -> list[tuple[str, int]]:
    """Known event names with their counts (for the segment builder)."""
    rows = session.execute(
        select(Event.name, func.count(Event.id)).where(Event.org_id == org_id)
        .group_by(Event.name).order_by(func.count(Event.id).desc(), Event.name).limit(limit))
    return [(name, int(n)) for name, n in rows]
