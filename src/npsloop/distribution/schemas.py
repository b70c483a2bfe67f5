"""API shapes for campaigns, schedules and the funnel."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: str = Field("", max_length=200)
    body: str = Field("", max_length=2000)


class CampaignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field("", max_length=200)
    survey_id: str = Field(min_length=1, max_length=32)
    segment_id: str = Field(min_length=1, max_length=32)
    channel: Literal["email", "sms"]
    notify_channel_id: str = Field(min_length=1, max_length=32)
    # Per language ("zh-CN", "en"); a language or part left out gets the default text.
    messages: dict[str, MessageIn] = Field(default_factory=dict)
    send_at: datetime | None = Field(None, description="send later; omit to send on /send")
    send_now: bool = Field(False, description="create and send in one call")
    expires_days: int = Field(30, ge=1, le=365)


class CampaignOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    survey_id: str
    segment_id: str
    channel: str
    notify_channel_id: str
    messages: dict[str, Any]
    status: str
    send_at: datetime | None
    schedule_id: str | None
    expires_days: int
    invited_count: int
    deferred_count: int
    skipped: dict[str, int]
    planned_at: datetime | None
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class FunnelRowOut(BaseModel):
    survey_id: str
    channel: str
    invited: int | None
    delivered: int | None
    opened: int | None
    started: int
    completed: int
    response_rate: float | None
    # Not delivered (None for open links); bounced: of those, reported failed by the
    # carrier's SMS delivery receipt.
    failed: int | None = None
    bounced: int | None = None


class CampaignDetail(CampaignOut):
    funnel: FunnelRowOut | None = None
    failed: int = 0
    bounced: int = 0


class SendResult(BaseModel):
    campaign_id: str
    status: str
    planned: bool = Field(description="false: the worker is still inviting the segment")
    invited: int
    deferred: int
    skipped: dict[str, int]
    skipped_total: int


class ScheduleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field("", max_length=200)
    survey_id: str = Field(min_length=1, max_length=32)
    segment_id: str = Field(min_length=1, max_length=32)
    channel: Literal["email", "sms"]
    notify_channel_id: str = Field(min_length=1, max_length=32)
    messages: dict[str, MessageIn] = Field(default_factory=dict)
    every_unit: Literal["week", "month", "cron"]
    every_count: int = Field(1, ge=1, le=52)
    cron: str = Field("", max_length=120)
    starts_at: datetime | None = None
    timezone: str | None = Field(None, max_length=64)
    expires_days: int = Field(30, ge=1, le=365)


class ScheduleUpdate(BaseModel):
    """PATCH: only the fields sent change; `enabled: false` pauses, `true` resumes."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, max_length=200)
    segment_id: str | None = Field(None, min_length=1, max_length=32)
    channel: Literal["email", "sms"] | None = None
    notify_channel_id: str | None = Field(None, min_length=1, max_length=32)
    messages: dict[str, MessageIn] | None = None
    every_unit: Literal["week", "month", "cron"] | None = None
    every_count: int | None = Field(None, ge=1, le=52)
    cron: str | None = Field(None, max_length=120)
    starts_at: datetime | None = None
    timezone: str | None = Field(None, max_length=64)
    expires_days: int | None = Field(None, ge=1, le=365)
    enabled: bool | None = None


class ScheduleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    survey_id: str
    segment_id: str
    channel: str
    notify_channel_id: str
    every_unit: str
    every_count: int
    cron: str
    timezone: str
    starts_at: datetime
    next_run_at: datetime | None
    last_run_at: datetime | None
    enabled: bool
    expires_days: int
    messages: dict[str, Any]
    created_at: datetime


class FunnelOut(BaseModel):
    rows: list[FunnelRowOut]
