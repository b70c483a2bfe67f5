"""Action plans and their tasks.

A plan is linked to one scope (a driver, a text topic, a touchpoint, a survey or a contact
segment) by `link_kind` + `link_value`. The link value is a plain string, not a foreign key:
topics and segments live in other domains' tables, and a plan must survive (and say so) when
its target is deleted.
"""

from __future__ import annotations

import enum
from datetime import date

from sqlalchemy import Boolean, Date, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from npsloop.core.db import Base, IdMixin, TimestampMixin


class PlanStatus(enum.StrEnum):
    planned = "planned"
    in_progress = "in_progress"
    done = "done"
    cancelled = "cancelled"


class LinkKind(enum.StrEnum):
    driver = "driver"
    topic = "topic"
    touchpoint = "touchpoint"
    survey = "survey"
    segment = "segment"


DEFAULT_WINDOW_DAYS = 90


class ActionPlan(IdMixin, TimestampMixin, Base):
    __tablename__ = "action_plans"
    __table_args__ = (Index("ix_action_plans_org_start", "org_id", "start_date"),)

    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    owner: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(16), default=PlanStatus.planned.value)
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    target_nps: Mapped[float | None] = mapped_column(Float, nullable=True)
    link_kind: Mapped[str] = mapped_column(String(16))
    link_value: Mapped[str] = mapped_column(String(200))
    # The effect view's default windows (days before / after the start); the user may ask
    # for others per request.
    window_before_days: Mapped[int] = mapped_column(Integer, default=DEFAULT_WINDOW_DAYS)
    window_after_days: Mapped[int] = mapped_column(Integer, default=DEFAULT_WINDOW_DAYS)
    created_by: Mapped[str] = mapped_column(String(200), default="")

    tasks: Mapped[list[PlanTask]] = relationship(
        back_populates="plan", cascade="all, delete-orphan", order_by="PlanTask.position",
        lazy="selectin",
    )


class PlanTask(IdMixin, TimestampMixin, Base):
    __tablename__ = "action_plan_tasks"

    plan_id: Mapped[str] = mapped_column(
        ForeignKey("action_plans.id", ondelete="CASCADE"), index=True
    )
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer, default=0)
    title: Mapped[str] = mapped_column(String(300))
    done: Mapped[bool] = mapped_column(Boolean, default=False)
    due_date: Mapped[date | None] = mapped_column(Date, nullable=True)

    plan: Mapped[ActionPlan] = relationship(back_populates="tasks")
