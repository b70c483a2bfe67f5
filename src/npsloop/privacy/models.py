"""Retention settings: how long an organisation keeps personal data before it is anonymised
or deleted (PIPL/GDPR storage limitation). Aggregates survive: responses lose the person,
not the score."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from npsloop.core.db import Base, IdMixin, TimestampMixin, UTCDateTime


class RetentionPolicy(IdMixin, TimestampMixin, Base):
    __tablename__ = "privacy_retention"
    __table_args__ = (UniqueConstraint("org_id"),)

    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    # None = keep for ever. Responses older than this lose their contact link, the attribute
    # snapshot and the comment text; score, answers, sentiment and topics stay.
    anonymise_responses_after_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    delete_events_after_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Sent notifications carry customer quotes and addresses.
    delete_messages_after_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    delete_audit_after_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
