"""Contacts (the customers who answer), their typed attributes, behaviour events, saved
segments and the record of each import.

Attribute values live in `Contact.attributes` (JSON) with one `AttributeDefinition` per key
and organisation fixing its type, so segment SQL can read them with a typed JSON accessor.
Dates are stored as 'YYYY-MM-DD' strings: they sort and compare correctly as text on both
SQLite and PostgreSQL.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from npsloop.core.db import Base, IdMixin, TimestampMixin, UTCDateTime, utcnow


class LifecycleStage(enum.StrEnum):
    acquisition = "acquisition"
    retention = "retention"
    conversion = "conversion"
    referral = "referral"


class AttributeType(enum.StrEnum):
    string = "string"
    number = "number"
    date = "date"
    boolean = "boolean"


class Contact(IdMixin, TimestampMixin, Base):
    __tablename__ = "contacts"
    __table_args__ = (
        UniqueConstraint("org_id", "external_id"),
        Index("ix_contacts_org_created", "org_id", "created_at"),
        Index("ix_contacts_org_email", "org_id", "email"),
    )

    org_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    external_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    phone: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # Preferred language for surveys and invitations: "zh-CN" or "en".
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    lifecycle_stage: Mapped[str | None] = mapped_column(String(16), nullable=True)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)


class AttributeDefinition(IdMixin, TimestampMixin, Base):
    """The type of one attribute key in one organisation (created on first sight)."""

    __tablename__ = "contact_attribute_definitions"
    __table_args__ = (UniqueConstraint("org_id", "key"),)

    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(200), default="")
    # Shown as a column in the contact list.
    show_in_list: Mapped[bool] = mapped_column(Boolean, default=False)


class Event(IdMixin, Base):
    """A behaviour of a contact ("order_paid", "ticket_closed"), as sent by the customer's
    systems. `event_key` is the sender's optional id: a resend with the same id is ignored."""

    __tablename__ = "contact_events"
    __table_args__ = (
        UniqueConstraint("org_id", "event_key"),
        # "count of event E for contact C since T" (one contact: the widget, triggers).
        Index("ix_contact_events_contact_name_time", "contact_id", "name", "occurred_at"),
        # The same question for every contact at once (segment counts); covers contact_id.
        Index("ix_contact_events_org_name_time", "org_id", "name", "occurred_at", "contact_id"),
    )

    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    contact_id: Mapped[str] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    properties: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    event_key: Mapped[str | None] = mapped_column(String(128), nullable=True)
    source: Mapped[str] = mapped_column(String(16), default="api")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Segment(IdMixin, TimestampMixin, Base):
    """A saved targeting rule (see segment_rules.py for its JSON shape)."""

    __tablename__ = "contact_segments"
    __table_args__ = (UniqueConstraint("org_id", "name"),)

    org_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    rules: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_by: Mapped[str] = mapped_column(String(200), default="")


class ImportStatus(enum.StrEnum):
    preview = "preview"  # dry run: validated, nothing written
    applied = "applied"  # rows written (all of them, or the valid ones in valid_only mode)
    rejected = "rejected"  # all_or_nothing and some row was bad: nothing written


class ContactImport(IdMixin, Base):
    """One run of a CSV/XLSX import (dry run or real) and its totals."""

    __tablename__ = "contact_imports"
    __table_args__ = (Index("ix_contact_imports_org_created", "org_id", "created_at"),)

    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    filename: Mapped[str] = mapped_column(String(255), default="")
    file_format: Mapped[str] = mapped_column(String(8))
    encoding: Mapped[str] = mapped_column(String(16), default="")
    mode: Mapped[str] = mapped_column(String(16))
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16))
    mapping: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    total_rows: Mapped[int] = mapped_column(Integer, default=0)
    valid_rows: Mapped[int] = mapped_column(Integer, default=0)
    error_rows: Mapped[int] = mapped_column(Integer, default=0)
    created_count: Mapped[int] = mapped_column(Integer, default=0)
    updated_count: Mapped[int] = mapped_column(Integer, default=0)
    actor: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ContactImportError(IdMixin, Base):
    """One problem in one row of an import: every bad row is kept, not just the first."""

    __tablename__ = "contact_import_errors"
    __table_args__ = (Index("ix_contact_import_errors_import_row", "import_id", "row_number"),)

    import_id: Mapped[str] = mapped_column(
        ForeignKey("contact_imports.id", ondelete="CASCADE")
    )
    # The row as the user sees it in the file: the header is row 1.
    row_number: Mapped[int] = mapped_column(Integer)
    # The column's position in the file, so a row's problems read left to right.
    column_index: Mapped[int] = mapped_column(Integer, default=0)
    field: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    # The reason as a code and parameters, translated on the import page.
    code: Mapped[str] = mapped_column(String(40), default="invalid")
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    value: Mapped[str] = mapped_column(String(200), default="")
