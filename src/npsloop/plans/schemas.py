"""Request and response bodies of /api/v1/plans."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from npsloop.plans.models import DEFAULT_WINDOW_DAYS, LinkKind, PlanStatus

MIN_WINDOW_DAYS, MAX_WINDOW_DAYS = 7, 730
MAX_TASKS = 100


class TaskIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str = Field(min_length=1, max_length=300)
    done: bool = False
    due_date: date | None = None


class TaskUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str | None = Field(None, min_length=1, max_length=300)
    done: bool | None = None
    due_date: date | None = None


class TaskOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    title: str
    done: bool
    due_date: date | None


class PlanIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=10000)
    owner: str = Field("", max_length=200)
    status: PlanStatus = PlanStatus.planned
    start_date: date
    end_date: date | None = None
    target_nps: float | None = Field(None, ge=-100, le=100)
    link_kind: LinkKind
    link_value: str = Field(min_length=1, max_length=200)
    window_before_days: int = Field(DEFAULT_WINDOW_DAYS, ge=MIN_WINDOW_DAYS, le=MAX_WINDOW_DAYS)
    window_after_days: int = Field(DEFAULT_WINDOW_DAYS, ge=MIN_WINDOW_DAYS, le=MAX_WINDOW_DAYS)
    tasks: list[TaskIn] = Field(default_factory=list, max_length=MAX_TASKS)


class PlanUpdate(BaseModel):
    """Fields left out keep their value; `tasks`, when given, replaces the task list."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=10000)
    owner: str | None = Field(None, max_length=200)
    status: PlanStatus | None = None
    start_date: date | None = None
    end_date: date | None = None
    target_nps: float | None = Field(None, ge=-100, le=100)
    link_kind: LinkKind | None = None
    link_value: str | None = Field(None, min_length=1, max_length=200)
    window_before_days: int | None = Field(None, ge=MIN_WINDOW_DAYS, le=MAX_WINDOW_DAYS)
    window_after_days: int | None = Field(None, ge=MIN_WINDOW_DAYS, le=MAX_WINDOW_DAYS)
    tasks: list[TaskIn] | None = Field(None, max_length=MAX_TASKS)


class PlanOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    title: str
    description: str
    owner: str
    status: str
    start_date: date
    end_date: date | None
    target_nps: float | None
    link_kind: str
    link_value: str
    link_label: str = ""
    window_before_days: int
    window_after_days: int
    tasks: list[TaskOut]
    tasks_done: int = 0
    created_by: str
    created_at: datetime
    updated_at: datetime
    effect: dict[str, Any] | None = None


class PlanList(BaseModel):
    items: list[PlanOut]
    total: int
