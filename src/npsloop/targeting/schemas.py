"""Request and response bodies of the targeting API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from npsloop.contacts.schemas import ContactUpsert

Channel = Literal["email", "sms", "widget", "api"]


class TriggerEventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100, examples=["order_delivered"])
    properties: dict[str, Any] = Field(default_factory=dict)
    timestamp: datetime | None = Field(
        None, description="when it happened, with a time zone offset; default now")
    id: str | None = Field(None, max_length=128,
                           description="your event id: a resend is stored once")


class TriggerRequest(BaseModel):
    """`POST /api/v1/triggers`: should this contact be asked now, after this event?"""

    model_config = ConfigDict(extra="forbid")
    contact: ContactUpsert
    event: TriggerEventIn
    survey_id: str | None = Field(None, max_length=32,
                                  description="ask about this survey (default: the "
                                              "triggers defined for the event)")
    channel: Channel = "api"
    dry_run: bool = Field(False, description="answer what would happen, but store nothing: "
                                             "no contact change, event, invitation or log row")


class ReasonOut(BaseModel):
    rule: str
    message: str
    params: dict[str, Any]


class InvitationOut(BaseModel):
    id: str
    url: str
    channel: str
    send_at: datetime | None
    expires_at: datetime | None


class TriggerDecisionOut(BaseModel):
    eligible: bool
    survey_id: str | None
    reasons: list[ReasonOut]
    invitation: InvitationOut | None
    trigger_id: str | None = None
    delay_seconds: int = 0
    dry_run: bool = False
    send_at: datetime | None = Field(None, description="when the invitation is (or, in a "
                                                       "dry run, would be) sent")


class Condition(BaseModel):
    model_config = ConfigDict(extra="forbid")
    property: str = Field(min_length=1, max_length=100)
    op: Literal["eq", "ne", "gt", "gte", "lt", "lte", "contains", "in", "exists",
                "not_exists"]
    value: Any = None


class TriggerRuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    event_name: str = Field(min_length=1, max_length=100)
    survey_id: str = Field(min_length=1, max_length=32)
    channel: Channel
    delay_seconds: int = Field(0, ge=0, le=90 * 86400)
    segment_id: str | None = Field(None, max_length=32)
    conditions: list[Condition] = Field(default_factory=list, max_length=20)
    active: bool = True


class TriggerRuleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    name: str
    event_name: str
    survey_id: str
    channel: str
    delay_seconds: int
    segment_id: str | None
    conditions: list[dict[str, Any]]
    active: bool
    created_by: str
    created_at: datetime
    updated_at: datetime


class FatigueIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    recontact_days: int = Field(30, ge=0, le=3650)
    sampling_percent: float = Field(100.0, ge=0, le=100)
    quiet_start: str | None = Field(None, description="local HH:MM, e.g. 22:00")
    quiet_end: str | None = Field(None, description="local HH:MM, e.g. 08:00")
    cap_count: int | None = Field(None, ge=1, le=1000)
    cap_days: int | None = Field(None, ge=1, le=3650)


class OverrideIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    recontact_days: int | None = Field(None, ge=0, le=3650)
    sampling_percent: float | None = Field(None, ge=0, le=100)


class OverrideOut(OverrideIn):
    survey_id: str
    survey_name: str = ""


class FatigueOut(FatigueIn):
    timezone: str
    saved: bool
    overrides: list[OverrideOut]


class DecisionOut(BaseModel):
    id: str
    created_at: datetime
    contact_id: str | None
    contact_external_id: str | None
    survey_id: str | None
    channel: str
    source: str
    eligible: bool
    rule: str | None
    reasons: list[ReasonOut]
    invitation_id: str | None
    trigger_id: str | None


class DecisionList(BaseModel):
    total: int
    counts: dict[str, int]
    date_from: datetime
    date_to: datetime
    items: list[DecisionOut]
