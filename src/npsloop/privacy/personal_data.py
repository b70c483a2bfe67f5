"""Everything held on one contact, exported or erased on request.

The tables are found from the schema, not listed: every table with a foreign key to
`contacts` holds data about the contact, and every table with a foreign key to one of those
(a response's answers and text analysis, a ticket's comments) holds more. A domain added
later is covered without editing this module; `SCRUB` only names the columns that need more
than the link removed.

Erasure keeps aggregates honest: a response stays (score, category, driver ratings,
sentiment, topics) so last quarter's NPS does not move, but it loses the contact link, the
attribute snapshot, the comment and anything derived word for word from the comment.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, delete, select, update
from sqlalchemy.orm import Session

from npsloop.contacts.models import Contact
from npsloop.core.db import Base, utcnow
from npsloop.registry import import_models

# Columns that hold personal text even after the contact link is gone, per table: the value
# they get on erasure. Tables not named here only lose the link (or their rows).
SCRUB: dict[str, dict[str, Any]] = {
    "responses": {"contact_attributes": {}, "comment": ""},
    # "erased" tells text reprocessing to keep sentiment and topics of a comment now gone.
    "response_text_analysis": {"keywords": [], "terms": [], "comment_hash": "erased"},
}
# Columns never exported: secrets and other people's identifiers.
NOT_EXPORTED = {"password_hash", "key_hash", "token_hash", "customer_external_id", "ip_hash"}


@dataclass
class ContactTables:
    """The schema's view of where a contact's data lives."""

    direct: list[tuple[Table, str, str | None]]  # (table, fk column, ondelete)
    # (child table, fk column, parent table name): rows that belong to a direct row.
    indirect: list[tuple[Table, str, str]] = field(default_factory=list)


def contact_tables() -> ContactTables:
    import_models()
    contacts = Base.metadata.tables["contacts"]
    direct: list[tuple[Table, str, str | None]] = []
    for table in Base.metadata.sorted_tables:
        for fk in table.foreign_keys:
            if fk.column.table is contacts:
                direct.append((table, fk.parent.name, fk.ondelete))
    parents = {table.name for table, _, _ in direct}
    indirect: list[tuple[Table, str, str]] = []
    for table in Base.metadata.sorted_tables:
        if table.name in parents or table is contacts:
            continue
        for fk in table.foreign_keys:
            if fk.column.table.name in parents and fk.column.name == "id":
                indirect.append((table, fk.parent.name, fk.column.table.name))
                break
    return ContactTables(direct=direct, indirect=indirect)


def plain(value: Any) -> Any:
    """A JSON-safe copy of a column value."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value


def _rows(session: Session, table: Table, where: Any) -> list[dict[str, Any]]:
    result = session.execute(select(table).where(where))
    return [
        {key: plain(val) for key, val in row._mapping.items() if key not in NOT_EXPORTED}
        for row in result
    ]


def _ids_in(table: Table, column: str, ids: Iterable[str]) -> Any:
    return table.c[column].in_(list(ids))


def export_contact(session: Session, *, org_id: str, contact: Contact) -> dict[str, Any]:
    """Every row held on the contact, grouped by table (a subject access request)."""
    if contact.org_id != org_id:
        raise ValueError("contact belongs to another organisation")
    tables = contact_tables()
    contacts = Base.metadata.tables["contacts"]
    data: dict[str, list[dict[str, Any]]] = {
        "contacts": _rows(session, contacts, contacts.c.id == contact.id)
    }
    parent_ids: dict[str, list[str]] = {}
    for table, column, _ in tables.direct:
        where = (table.c[column] == contact.id) & (table.c.org_id == org_id) \
            if "org_id" in table.c else table.c[column] == contact.id
        rows = _rows(session, table, where)
        if rows:
            data.setdefault(table.name, []).extend(rows)
        parent_ids[table.name] = [r["id"] for r in rows if "id" in r]
    for table, column, parent in tables.indirect:
        ids = parent_ids.get(parent) or []
        if ids:
            rows = _rows(session, table, _ids_in(table, column, ids))
            if rows:
                data.setdefault(table.name, []).extend(rows)
    return {
        "format": "npsloop.contact-export.v1",
        "exported_at": utcnow().isoformat(),
        "organization_id": org_id,
        "contact_external_id": contact.external_id,
        "tables": data,
        "counts": {name: len(rows) for name, rows in data.items()},
    }


def erasure_token(org_id: str, external_id: str) -> str:
    """A one-way fingerprint of the erased id for the audit log: proves which request was
    carried out without keeping the identifier itself."""
    return hashlib.sha256(f"{org_id}:{external_id}".encode()).hexdigest()[:16]


def _scrub_messages(session: Session, org_id: str, addresses: set[str]) -> int:
    """Sent notifications addressed to the contact lose the address and the body (and their
    SMS delivery receipts the phone number)."""
    if not addresses:
        return 0
    messages = Base.metadata.tables.get("notify_messages")
    if messages is None:
        return 0
    hit = []
    rows = session.execute(
        select(messages.c.id, messages.c.recipients).where(messages.c.org_id == org_id)
        .where(messages.c.recipients.is_not(None))
    )
    for message_id, recipients in rows:
        if set(recipients or []) & addresses:
            hit.append(message_id)
    # SMS delivery receipts keep the number they were matched by: it goes too.
    receipts = Base.metadata.tables.get("notify_sms_receipts")
    for start in range(0, len(hit), 500):
        chunk = hit[start:start + 500]
        session.execute(update(messages).where(messages.c.id.in_(chunk))
                        .values(recipients=["[erased]"], body={"erased": True}))
        if receipts is not None:
            session.execute(update(receipts).where(receipts.c.message_id.in_(chunk))
                            .values(phone="[erased]"))
    return len(hit)


def erase_contact(session: Session, *, org_id: str, contact: Contact) -> dict[str, int]:
    """Deletes the contact and its personal data; responses stay, anonymised.

    Runs in the caller's transaction and never commits. Returns rows touched per table."""
    if contact.org_id != org_id:
        raise ValueError("contact belongs to another organisation")
    tables = contact_tables()
    counts: dict[str, int] = {}
    parent_ids: dict[str, list[str]] = {}
    for table, column, _ in tables.direct:
        if "id" in table.c:
            parent_ids[table.name] = list(session.scalars(
                select(table.c.id).where(table.c[column] == contact.id)))
    for table, column, parent in tables.indirect:
        scrub = SCRUB.get(table.name)
        ids = parent_ids.get(parent) or []
        if scrub and ids:
            result = session.execute(
                update(table).where(_ids_in(table, column, ids)).values(**scrub))
            counts[table.name] = counts.get(table.name, 0) + (result.rowcount or 0)
    for table, column, ondelete in tables.direct:
        where = table.c[column] == contact.id
        if (ondelete or "").upper() == "CASCADE" or not table.c[column].nullable:
            result = session.execute(delete(table).where(where))
        else:
            values: dict[str, Any] = {column: None, **SCRUB.get(table.name, {})}
            result = session.execute(update(table).where(where).values(**values))
        counts[table.name] = counts.get(table.name, 0) + (result.rowcount or 0)
    addresses = {a for a in (contact.email, contact.phone) if a}
    counts["notify_messages"] = _scrub_messages(session, org_id, addresses)
    session.execute(delete(Base.metadata.tables["contacts"])
                    .where(Base.metadata.tables["contacts"].c.id == contact.id))
    counts["contacts"] = 1
    session.expunge(contact)
    return {name: n for name, n in counts.items() if n}
