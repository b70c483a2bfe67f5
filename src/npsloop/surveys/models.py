"""Survey projects and their questions, with content per language."""

from __future__ import annotations

import enum
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from npsloop.core.db import Base, IdMixin, TimestampMixin, new_id


class NpsType(enum.StrEnum):
    strategic = "strategic"
    relationship = "relationship"
    touchpoint = "touchpoint"


class SurveyStatus(enum.StrEnum):
    draft = "draft"
    live = "live"
    paused = "paused"
    closed = "closed"


class QuestionKind(enum.StrEnum):
    nps = "nps"
    open_followup = "open_followup"
    driver_rating = "driver_rating"
    single_choice = "single_choice"
    multiple_choice = "multiple_choice"


class Survey(IdMixin, TimestampMixin, Base):
    __tablename__ = "surveys"

    org_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    nps_type: Mapped[str] = mapped_column(String(16), default=NpsType.relationship.value)
    journey_stage: Mapped[str] = mapped_column(String(100), default="")
    touchpoint: Mapped[str] = mapped_column(String(100), default="")
    status: Mapped[str] = mapped_column(String(16), default=SurveyStatus.draft.value)
    languages: Mapped[list[str]] = mapped_column(JSON, default=lambda: ["zh-CN", "en"])
    default_language: Mapped[str] = mapped_column(String(8), default="zh-CN")
    # Unguessable id used in the public link, so survey ids never leak to the open web.
    public_token: Mapped[str] = mapped_column(String(32), unique=True, default=new_id)
    description: Mapped[str] = mapped_column(Text, default="")

    questions: Mapped[list[Question]] = relationship(
        back_populates="survey",
        order_by="Question.position",
        cascade="all, delete-orphan",
        lazy="selectin",
    )


class Question(IdMixin, Base):
    __tablename__ = "questions"

    survey_id: Mapped[str] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    kind: Mapped[str] = mapped_column(String(24))
    # Stable machine key: "nps", "comment", a driver name ("price") or a choice question name.
    key: Mapped[str] = mapped_column(String(64))
    required: Mapped[bool] = mapped_column(Boolean, default=False)
    # {"zh-CN": {"text": "...", "by_category": {"promoter": "...", ...}}, "en": {...}}
    texts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # [{"key": "slow_delivery", "labels": {"zh-CN": "...", "en": "..."}}]
    options: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # Skip logic: show only to these categories (None = everyone).
    show_if_categories: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)

    survey: Mapped[Survey] = relationship(back_populates="questions")
