"""Shared set-up for outcome tests: contacts, answers and behaviour events at chosen times."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from npsloop.contacts.models import Contact, Event
from npsloop.core.db import utcnow
from tests.analytics.helpers import add_contact, add_response


def now_s() -> datetime:
    """Now at whole seconds (boundaries in tests are exact)."""
    return utcnow().replace(microsecond=0)


def add_event(db: Session, org_id: str, contact: Contact, name: str, at: datetime,
              **properties: object) -> Event:
    event = Event(org_id=org_id, contact_id=contact.id, name=name, properties=properties,
                  occurred_at=at, source="test")
    db.add(event)
    db.flush()
    return event


def answered(db: Session, org_id: str, survey_id: str, score: int, at: datetime,
             contact: Contact | None = None, email: str | None = None) -> Contact:
    contact = contact or add_contact(db, org_id)
    if email:
        contact.email = email
    add_response(db, org_id, survey_id, score, at=at, contact=contact)
    return contact
