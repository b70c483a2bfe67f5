"""Contact logic: validate a change, upsert by external id, list, delete.

A change names only what it changes: fields present are set (null clears), attributes merge
(null removes a key), `tags` replaces the list, `add_tags`/`remove_tags` edit it. The same
path serves the API (strict JSON types) and imports (text coerced to each attribute's type).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, or_, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from npsloop.contacts import segments, values
from npsloop.contacts.attributes import AttributeRegistry
from npsloop.contacts.models import Contact

PLAIN_FIELDS = ("name", "email", "phone", "language", "lifecycle_stage")
IN_CHUNK = 500  # ids per IN (...) list: well under every driver's parameter limit
TIMEZONE_COUNTRY = {"Asia/Shanghai": "86", "Asia/Chongqing": "86", "Asia/Urumqi": "86",
                    "Asia/Hong_Kong": "852", "Asia/Macau": "853", "Asia/Taipei": "886",
                    "Asia/Singapore": "65", "Asia/Tokyo": "81", "Asia/Seoul": "82",
                    "Europe/London": "44", "Europe/Berlin": "49", "Europe/Paris": "33",
                    "America/New_York": "1", "America/Chicago": "1", "America/Denver": "1",
                    "America/Los_Angeles": "1", "Australia/Sydney": "61"}


@dataclass
class FieldError:
    field: str
    message: str
    # For translated messages on pages: values.Problem's code and parameters.
    code: str = "invalid"
    params: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, name: str, exc: ValueError) -> FieldError:
        return cls(name, str(exc), getattr(exc, "code", "invalid"),
                   dict(getattr(exc, "params", {})))


class ContactError(ValueError):
    """Every problem of a change (or of a batch). `field`/`message` name the first one, in
    the shape other domains' errors have."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors
        self.field = errors[0].field if errors else ""
        self.message = errors[0].message if errors else ""


@dataclass
class ContactChange:
    external_id: str
    fields: dict[str, str | None] = field(default_factory=dict)
    attributes: dict[str, Any] = field(default_factory=dict)
    tags: list[str] | None = None
    add_tags: list[str] = field(default_factory=list)
    remove_tags: list[str] = field(default_factory=list)


def country_code(timezone: str | None) -> str:
    return TIMEZONE_COUNTRY.get(timezone or "", values.DEFAULT_COUNTRY_CODE)


FIELD_CHECKS = {
    "email": values.normalize_email,
    "language": values.normalize_language_field,
    "lifecycle_stage": values.normalize_stage,
}


def check_change(
    registry: AttributeRegistry,
    data: dict[str, Any],
    *,
    mode: str = "strict",
    phone_country: str = values.DEFAULT_COUNTRY_CODE,
    prefix: str = "",
) -> ContactChange:
    """Validates one contact's change; raises ContactError listing every bad field."""
    errors: list[FieldError] = []
    external_id = str(data.get("external_id") or "").strip()
    if not external_id:
        errors.append(FieldError(f"{prefix}external_id", "is required", "required"))
    elif len(external_id) > 200:
        errors.append(FieldError(f"{prefix}external_id", "is longer than 200 characters",
                                 "too_long", {"max": 200}))
    change = ContactChange(external_id=external_id)
    for name in PLAIN_FIELDS:
        if name not in data:
            continue
        raw = data[name]
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            change.fields[name] = None
            continue
        try:
            if name == "phone":
                change.fields[name] = values.normalize_phone(str(raw), phone_country)
            elif name == "name":
                change.fields[name] = str(raw).strip()[:200]
            else:
                change.fields[name] = FIELD_CHECKS[name](str(raw))
        except ValueError as exc:
            errors.append(FieldError.of(f"{prefix}{name}", exc))
    for key, raw in (data.get("attributes") or {}).items():
        if raw is None or (mode == "text" and raw == ""):
            change.attributes[key] = None
            continue
        try:
            change.attributes[key] = registry.check(key, raw, mode=mode)
        except ValueError as exc:
            errors.append(FieldError.of(f"{prefix}attributes.{key}", exc))
    for name in ("tags", "add_tags", "remove_tags"):
        if data.get(name) is None:
            continue
        try:
            setattr(change, name, values.normalize_tags(data[name]))
        except ValueError as exc:
            errors.append(FieldError.of(f"{prefix}{name}", exc))
    if errors:
        raise ContactError(errors)
    return change


def apply_change(contact: Contact, change: ContactChange) -> None:
    for name, value in change.fields.items():
        setattr(contact, name, value)
    if change.attributes:
        merged = dict(contact.attributes or {})
        for key, value in change.attributes.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        contact.attributes = merged
    tags = list(contact.tags or []) if change.tags is None else list(change.tags)
    tags += [t for t in change.add_tags if t not in tags]
    tags = [t for t in tags if t not in change.remove_tags]
    if tags != list(contact.tags or []):
        contact.tags = tags[: values.MAX_TAGS]


def contacts_by_external_id(
    session: Session, *, org_id: str, external_ids: Iterable[str]
) -> dict[str, Contact]:
    wanted = sorted(set(external_ids))
    found: dict[str, Contact] = {}
    for start in range(0, len(wanted), IN_CHUNK):
        chunk = wanted[start:start + IN_CHUNK]
        for contact in session.scalars(select(Contact).where(
                Contact.org_id == org_id, Contact.external_id.in_(chunk))):
            found[contact.external_id] = contact
    return found


def apply_changes(
    session: Session, *, org_id: str, changes: Sequence[ContactChange],
    registry: AttributeRegistry | None = None,
) -> list[tuple[Contact, bool]]:
    """Upserts a batch (flushes, does not commit). Returns (contact, created) per change."""
    if registry is not None:
        registry.flush_new()
    for attempt in range(2):
        existing = contacts_by_external_id(
            session, org_id=org_id, external_ids=(c.external_id for c in changes))
        results: list[tuple[Contact, bool]] = []
        new_ids: set[str] = set()
        try:
            with session.begin_nested():
                for change in changes:
                    contact = existing.get(change.external_id)
                    created = contact is None or change.external_id in new_ids
                    if contact is None:
                        contact = Contact(org_id=org_id, external_id=change.external_id,
                                          attributes={}, tags=[])
                        session.add(contact)
                        existing[change.external_id] = contact
                        new_ids.add(change.external_id)
                    apply_change(contact, change)
                    results.append((contact, created))
                session.flush()
            return results
        except IntegrityError:
            # A concurrent request created one of these contacts: read again, update it.
            if attempt == 1:
                raise
    return []


def get_by_external_id(session: Session, *, org_id: str, external_id: str) -> Contact | None:
    return session.scalar(
        select(Contact).where(Contact.org_id == org_id, Contact.external_id == external_id)
    )


def get_contact(session: Session, *, org_id: str, contact_id: str) -> Contact | None:
    return session.scalar(select(Contact).where(Contact.org_id == org_id,
                                                Contact.id == contact_id))


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
    """Creates or updates by external id; attributes merge (new keys win). Used by response
    ingest: values are checked against the attribute definitions, and a value that does not
    fit its attribute's type raises ContactError (field, message)."""
    data: dict[str, Any] = {"external_id": external_id, "attributes": attributes or {}}
    for name, value in (("email", email), ("phone", phone), ("language", language),
                        ("lifecycle_stage", lifecycle_stage)):
        if value is not None:
            data[name] = value
    registry = AttributeRegistry(session, org_id)
    # A survey form posts text: "42" for a number attribute is accepted as 42.
    change = check_change(registry, data, mode="lenient")
    return apply_changes(session, org_id=org_id, changes=[change], registry=registry)[0][0]


@dataclass
class ContactFilter:
    q: str = ""
    tag: str = ""
    lifecycle_stage: str = ""
    language: str = ""
    segment_rules: dict[str, Any] | None = None


def list_contacts(
    session: Session, *, org_id: str, filters: ContactFilter, limit: int = 50, offset: int = 0,
) -> tuple[list[Contact], int]:
    query = select(Contact).where(Contact.org_id == org_id)
    if filters.q.strip():
        pattern = f"%{escape_like(filters.q.strip())}%"
        query = query.where(or_(
            Contact.external_id.ilike(pattern, escape="\\"),
            Contact.email.ilike(pattern, escape="\\"),
            Contact.phone.ilike(pattern, escape="\\"),
            Contact.name.ilike(pattern, escape="\\"),
        ))
    if filters.lifecycle_stage:
        query = query.where(Contact.lifecycle_stage == filters.lifecycle_stage)
    if filters.language:
        query = query.where(Contact.language == filters.language)
    dialect = session.get_bind().dialect.name
    if filters.tag:
        query = query.where(segments.tags_clause(dialect, "has_any", [filters.tag]))
    if filters.segment_rules is not None:
        query = query.where(segments.predicate(session, org_id, filters.segment_rules))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(Contact.created_at.desc(), Contact.id.desc()).limit(limit).offset(offset))
    return list(rows), total


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def delete_contact(session: Session, *, contact: Contact) -> None:
    """Deletes the contact and its events; its responses stay, without the link."""
    session.delete(contact)
    session.flush()


def tag_counts(session: Session, *, org_id: str, limit: int = 100) -> list[tuple[str, int]]:
    """Most used tags (for filters and the segment builder), counted in SQL."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        tag = func.json_array_elements_text(Contact.tags).table_valued("value").alias("t")
        value = tag.c.value
    else:
        tag = func.json_each(Contact.tags).table_valued("value").alias("t")
        value = tag.c.value
    query = (select(value, func.count()).select_from(Contact).join(tag, true())
             .where(Contact.org_id == org_id).group_by(value)
             .order_by(func.count().desc(), value).limit(limit))
    return [(str(name), int(count)) for name, count in session.execute(query)]

