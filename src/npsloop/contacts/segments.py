"""Segments: saved targeting rules, evaluated in SQL.

For the distribution domain (campaigns, triggers, the widget):
  segment_contact_ids(session, org_id, segment_id) -> a SELECT of contact ids to stream
      (`session.scalars(query.execution_options(yield_per=1000))`) or to narrow further
      (`query.where(Contact.email.is_not(None))`);
  contact_matches(session, org_id, segment, contact_id) -> bool, one indexed query;
  predicate(session, org_id, rules) -> the WHERE clause over `contacts`, to compose.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from npsloop.accounts.service import get_organization
from npsloop.contacts.attributes import AttributeRegistry
from npsloop.contacts.models import Contact, Segment
from npsloop.contacts.segment_rules import RuleError, referenced_survey_ids, validate_rules
from npsloop.contacts.segment_sql import SqlContext, compile_rules, tags_clause
from npsloop.core.db import utcnow
from npsloop.surveys.models import Survey

__all__ = ["RuleError", "SegmentError", "tags_clause", "predicate", "segment_contact_ids",
           "contact_matches", "count", "preview", "validate"]


class SegmentError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class SegmentNotFound(LookupError):
    pass


def validate(session: Session, org_id: str, rules: Any,
             attribute_types: dict[str, str] | None = None) -> dict[str, Any]:
    """The rule in canonical form, checked against the organisation's attributes and
    surveys; RuleError lists every problem."""
    if attribute_types is None:
        attribute_types = AttributeRegistry(session, org_id).types
    wanted = referenced_survey_ids(rules) if isinstance(rules, dict) else set()
    known: set[str] = set()
    if wanted:
        known = set(session.scalars(select(Survey.id).where(
            Survey.org_id == org_id, Survey.id.in_(sorted(wanted)))))
    return validate_rules(rules, attribute_types=attribute_types, survey_ids=known)


class _ClauseCache:
    """Compiled clauses by (organisation, rule, shape, minute): the widget asks "is this
    contact in segment S?" many times a second, and building the expression costs more
    than running it. Rolling windows ("last D days") move with the minute, so a cached
    clause is at most a minute old; a changed rule is a different key."""

    def __init__(self, size: int = 512) -> None:
        self.size = size
        self.items: OrderedDict[tuple[Any, ...], ColumnElement[bool]] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: tuple[Any, ...]) -> ColumnElement[bool] | None:
        with self.lock:
            found = self.items.get(key)
            if found is not None:
                self.items.move_to_end(key)
            return found

    def put(self, key: tuple[Any, ...], clause: ColumnElement[bool]) -> None:
        with self.lock:
            self.items[key] = clause
            while len(self.items) > self.size:
                self.items.popitem(last=False)


_clauses = _ClauseCache()


def predicate(
    session: Session, org_id: str, rules: Any, *, single: bool = False,
    now: datetime | None = None, timezone: str | None = None,
) -> ColumnElement[bool]:
    """The segment as a WHERE clause over `contacts` (validated first; RuleError if bad).
    `timezone`: the organisation's, when the caller has it (saves reading it again)."""
    if timezone is None:
        org = get_organization(session, org_id)
        timezone = org.timezone if org and org.timezone else "UTC"
    zone_name = timezone
    moment = now or utcnow().replace(second=0, microsecond=0)
    dialect = session.get_bind().dialect.name
    try:
        rules_key = json.dumps(rules, sort_keys=True, default=str)
    except (TypeError, ValueError):
        rules_key = None
    key = (dialect, org_id, zone_name, rules_key, single, moment.isoformat())
    cached = _clauses.get(key) if rules_key is not None else None
    if cached is not None:
        return cached
    types = AttributeRegistry(session, org_id).types
    canonical = validate(session, org_id, rules, types)
    zone = ZoneInfo(zone_name)
    context = SqlContext(dialect=dialect, org_id=org_id, now=moment,
                         today=moment.astimezone(zone).date(), zone=zone,
                         attribute_types=types, single=single)
    clause = compile_rules(canonical, context)
    if rules_key is not None:
        _clauses.put(key, clause)
    return clause


def _rules_of(segment: Segment | dict[str, Any]) -> Any:
    return segment.rules if isinstance(segment, Segment) else segment


def contacts_query(
    session: Session, org_id: str, rules: Any, *, now: datetime | None = None
) -> Select[tuple[str]]:
    return select(Contact.id).where(
        Contact.org_id == org_id, predicate(session, org_id, rules, now=now))


def segment_contact_ids(
    session: Session, org_id: str, segment_id: str, *, now: datetime | None = None
) -> Select[tuple[str]]:
    """A SELECT of the ids of the segment's contacts (not yet executed)."""
    segment = get_segment(session, org_id=org_id, segment_id=segment_id)
    if segment is None:
        raise SegmentNotFound(segment_id)
    return contacts_query(session, org_id, segment.rules, now=now)


def iter_segment_contact_ids(
    session: Session, org_id: str, segment_id: str, *, batch: int = 1000
) -> Iterator[list[str]]:
    """The segment's contact ids in batches, streamed from the database."""
    query = segment_contact_ids(session, org_id, segment_id).order_by(Contact.id)
    result = session.execute(query.execution_options(yield_per=batch))
    for part in result.scalars().partitions(batch):
        yield list(part)


def contact_matches(
    session: Session, org_id: str, segment: Segment | dict[str, Any], contact_id: str,
    *, now: datetime | None = None,
) -> bool:
    """Whether one contact is in the segment: the same SQL as the bulk query, narrowed to the
    contact's primary key, with per-contact (indexed) event counts."""
    clause = predicate(session, org_id, _rules_of(segment), single=True, now=now)
    found = session.scalar(select(Contact.id).where(
        Contact.id == contact_id, Contact.org_id == org_id, clause))
    return found is not None


def count(session: Session, org_id: str, rules: Any) -> int:
    query = contacts_query(session, org_id, rules)
    return session.scalar(select(func.count()).select_from(query.subquery())) or 0


def preview(
    session: Session, org_id: str, rules: Any, *, sample_size: int = 10
) -> tuple[int, list[Contact]]:
    """How many contacts match, and the most recently created few of them."""
    clause = predicate(session, org_id, rules)
    matched = select(Contact).where(Contact.org_id == org_id, clause)
    total = session.scalar(select(func.count()).select_from(matched.subquery())) or 0
    sample = session.scalars(
        matched.order_by(Contact.created_at.desc(), Contact.id).limit(sample_size))
    return total, list(sample)


# --- saved segments ----------------------------------------------------------------------

def get_segment(session: Session, *, org_id: str, segment_id: str) -> Segment | None:
    return session.scalar(select(Segment).where(Segment.org_id == org_id,
                                                Segment.id == segment_id))


def list_segments(session: Session, *, org_id: str) -> list[Segment]:
    return list(session.scalars(
        select(Segment).where(Segment.org_id == org_id).order_by(Segment.name)))


def _check_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise SegmentError("name", "must not be empty")
    if len(name) > 200:
        raise SegmentError("name", "is longer than 200 characters")
    return name


def create_segment(
    session: Session, *, org_id: str, name: str, rules: Any, description: str = "",
    created_by: str = "",
) -> Segment:
    segment = Segment(org_id=org_id, name=_check_name(name), description=description.strip(),
                      rules=validate(session, org_id, rules), created_by=created_by)
    _save(session, segment)
    return segment


def update_segment(
    session: Session, *, segment: Segment, name: str | None = None, rules: Any = None,
    description: str | None = None,
) -> Segment:
    checked_name = _check_name(name) if name is not None else None
    checked_rules = validate(session, segment.org_id, rules) if rules is not None else None
    # The changes are made inside the savepoint: begin_nested() flushes pending changes
    # first, so a duplicate name set before it escaped as a 500 (found by fuzzing).
    try:
        with session.begin_nested():
            if checked_name is not None:
                segment.name = checked_name
            if description is not None:
                segment.description = description.strip()
            if checked_rules is not None:
                segment.rules = checked_rules
            session.flush()
    except IntegrityError as exc:
        raise SegmentError("name", f"a segment named '{checked_name}' already exists") from exc
    return segment


def _save(session: Session, segment: Segment) -> None:
    try:
        with session.begin_nested():
            session.add(segment)
            session.flush()
    except IntegrityError as exc:
        raise SegmentError("name", f"a segment named '{segment.name}' already exists") from exc


def delete_segment(session: Session, *, segment: Segment) -> None:
    session.delete(segment)
    session.flush()
