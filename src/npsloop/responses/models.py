"""Responses and their answers. A response exists from the moment a score is given."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from npsloop.core.db import Base, IdMixin, UTCDateTime, utcnow


class ResponseStatus(enum.StrEnum):
    partial = "partial"
    complete = "complete"


class Response(IdMixin, Base):
    __tablename__ = "responses"
    __table_args__ = (
        UniqueConstraint("org_id", "survey_id", "idempotency_key"),
        Index("ix_responses_org_submitted", "org_id", "submitted_at"),
        Index("ix_responses_survey_submitted", "survey_id", "submitted_at"),
    )

    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    survey_id: Mapped[str] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"))
    contact_id: Mapped[str | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL"), nullable=True, index=True
    )
    score: Mapped[int] = mapped_column(Integer)
    category: Mapped[str] = mapped_column(String(16))
    comment: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str] = mapped_column(String(8), default="zh-CN")
    channel: Mapped[str] = mapped_column(String(32), default="api")
    status: Mapped[str] = mapped_column(String(16), default=ResponseStatus.complete.value)
    idempotency_key: Mapped[str | None] = mapped_column(String(128), nullable=True)
    # Attributes of the contact as they were when the response was given.
    contact_attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    answers: Mapped[list[ResponseAnswer]] = relationship(
        back_populates="response", cascade="all, delete-orphan", lazy="selectin"
    )


class ResponseAnswer(IdMixin, Base):
    __tablename__ = "response_answers"
    __table_args__ = (
        UniqueConstraint("response_id", "question_key"),
        Index("ix_response_answers_org_key", "org_id", "question_key"),
    )

    response_id: Mapped[str] = mapped_column(ForeignKey("responses.id", ondelete="CASCADE"))
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    question_key: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(24))
    number_value: Mapped[float | None] = mapped_column(nullable=True)
    choice_values: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)

    response: Mapped[Response] = relationship(back_populates="answers")
