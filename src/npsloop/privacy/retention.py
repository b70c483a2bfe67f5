"""Retention: personal data older than an organisation's limits is anonymised or deleted.

Applied by the worker once a day per organisation (and by `npsloop privacy apply-retention`).
Each step is one set-based UPDATE/DELETE in SQL, batched by id so a large backlog never
holds the write lock for long; running it twice changes nothing the second time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from npsloop.accounts.models import AuditLog
from npsloop.contacts.models import Event
from npsloop.core.db import Base, utcnow
from npsloop.privacy.models import RetentionPolicy
from npsloop.privacy.personal_data import SCRUB
from npsloop.registry import import_models
from npsloop.responses.models import Response

BATCH = 2000
MIN_DAYS = 1
MAX_DAYS = 36500
FIELDS = (
    "anonymise_responses_after_days",
    "delete_events_after_days",
    "delete_messages_after_days",
    "delete_audit_after_days",
)


class RetentionError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def get_policy(session: Session, *, org_id: str) -> RetentionPolicy:
    policy = session.scalar(select(RetentionPolicy).where(RetentionPolicy.org_id == org_id))
    return policy or RetentionPolicy(org_id=org_id)


def save_policy(session: Session, *, org_id: str, values: dict[str, int | None]
                ) -> RetentionPolicy:
    for name, value in values.items():
        if name not in FIELDS:
            raise RetentionError(name, "unknown retention setting")
        if value is not None and not (MIN_DAYS <= int(value) <= MAX_DAYS):
            raise RetentionError(name, f"must be empty (keep) or {MIN_DAYS}..{MAX_DAYS} days")
    policy = get_policy(session, org_id=org_id)
    for name, value in values.items():
        setattr(policy, name, None if value is None else int(value))
    session.add(policy)
    session.flush()
    return policy


@dataclass
class RetentionResult:
    responses_anonymised: int = 0
    events_deleted: int = 0
    messages_deleted: int = 0
    audit_deleted: int = 0


def _batched_ids(session: Session, query) -> list[list[str]]:
    ids = list(session.scalars(query))
    return [ids[i:i + BATCH] for i in range(0, len(ids), BATCH)]


def _anonymise_responses(session: Session, org_id: str, before: datetime) -> int:
    import_models()
    analysis = Base.metadata.tables.get("response_text_analysis")
    query = (select(Response.id).where(Response.org_id == org_id)
             .where(Response.submitted_at < before)
             # Already anonymised rows are skipped, so a second run touches nothing.
             .where((Response.contact_id.is_not(None)) | (Response.comment != "")))
    total = 0
    for ids in _batched_ids(session, query):
        session.execute(update(Response).where(Response.id.in_(ids))
                        .values(contact_id=None, **SCRUB["responses"]))
        if analysis is not None:
            session.execute(update(analysis).where(analysis.c.response_id.in_(ids))
                            .values(**SCRUB["response_text_analysis"]))
        total += len(ids)
    return total


def _delete_older(session: Session, table, org_id: str, column, before: datetime) -> int:
    query = select(table.c.id).where(table.c.org_id == org_id).where(column < before)
    total = 0
    for ids in _batched_ids(session, query):
        session.execute(delete(table).where(table.c.id.in_(ids)))
        total += len(ids)
    return total


def apply_retention(session: Session, *, org_id: str, now: datetime | None = None
                    ) -> RetentionResult:
    """Applies the organisation's policy as of `now`; never commits."""
    now = now or utcnow()
    policy = get_policy(session, org_id=org_id)
    result = RetentionResult()
    if policy.anonymise_responses_after_days:
        before = now - timedelta(days=policy.anonymise_responses_after_days)
        result.responses_anonymised = _anonymise_responses(session, org_id, before)
    if policy.delete_events_after_days:
        before = now - timedelta(days=policy.delete_events_after_days)
        events = Event.__table__
        result.events_deleted = _delete_older(session, events, org_id, events.c.occurred_at,
                                              before)
    messages = Base.metadata.tables.get("notify_messages")
    if policy.delete_messages_after_days and messages is not None:
        before = now - timedelta(days=policy.delete_messages_after_days)
        # Only finished messages: a queued one is still owed to its receiver.
        query = (select(messages.c.id).where(messages.c.org_id == org_id)
                 .where(messages.c.created_at < before)
                 .where(messages.c.status.in_(("delivered", "dead", "failed"))))
        for ids in _batched_ids(session, query):
            session.execute(delete(messages).where(messages.c.id.in_(ids)))
            result.messages_deleted += len(ids)
    if policy.delete_audit_after_days:
        before = now - timedelta(days=policy.delete_audit_after_days)
        audit = AuditLog.__table__
        result.audit_deleted = _delete_older(session, audit, org_id, audit.c.created_at, before)
    if policy.id is not None and session.get(RetentionPolicy, policy.id) is not None:
        policy.last_applied_at = now
    return result


def due_org_ids(session: Session, now: datetime) -> list[str]:
    """Organisations with a policy not applied in the last 24 hours."""
    return list(session.scalars(
        select(RetentionPolicy.org_id).where(
            (RetentionPolicy.last_applied_at.is_(None))
            | (RetentionPolicy.last_applied_at < now - timedelta(hours=24)))))


def run_due(factory: sessionmaker[Session], now: datetime | None = None) -> int:
    """One pass of the daily job: each due organisation in its own transaction."""
    now = now or utcnow()
    with factory() as session:
        org_ids = due_org_ids(session, now)
    for org_id in org_ids:
        with factory() as session:
            apply_retention(session, org_id=org_id, now=now)
            session.commit()
    return len(org_ids)
