"""Contact logic (the listen issue deepens it: import, tags, segments)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from npsloop.contacts.models import Contact


def get_by_external_id(session: Session, *, org_id: str, external_id: str) -> Contact | None:
    return session.scalar(
        select(Contact).where(Contact.org_id == org_id, Contact.external_id == external_id)
    )


def upsert_contact(
    session: Session,
    *,
    org_id: str,
    external_id: str,
    attributes: dict[str, Any] | None = None,
    email: str | None = None,
    phone: str | None = None,
    language: str | None = None,
    lifecycle_stage: str | None = None,
) -> Contact:
    """Creates or updates by external id; attributes merge (new keys win)."""
    contact = get_by_external_id(session, org_id=org_id, external_id=external_id)
    if contact is None:
        contact = Contact(org_id=org_id, external_id=external_id, attributes={}, tags=[])
        try:
            # A savepoint keeps a concurrent insert of the same contact from failing the caller.
            with session.begin_nested():
                session.add(contact)
                session.flush()
        except IntegrityError:
            contact = get_by_external_id(session, org_id=org_id, external_id=external_id)
            assert contact is not None
    if attributes:
        contact.attributes = {**(contact.attributes or {}), **attributes}
    for field, value in (("email", email), ("phone", phone), ("language", language),
                         ("lifecycle_stage", lifecycle_stage)):
        if value is not None:
            setattr(contact, field, value)
    return contact
