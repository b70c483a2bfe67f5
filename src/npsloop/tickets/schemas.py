"""API shapes for rules, teams and tickets (rule bodies themselves are in rules.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from npsloop.tickets.rules import RuleBody, TicketAction


class RuleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    description: str
    position: int
    enabled: bool
    match: str
    conditions: list[dict[str, Any]]
    actions: dict[str, Any]
    stop_processing: bool
    created_by: str
    created_at: datetime
    updated_at: datetime


class RulePatch(BaseModel):
    """A partial update: given fields replace the stored ones."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=2000)
    enabled: bool | None = None
    match: Literal["all", "any"] | None = None
    conditions: list[dict[str, Any]] | None = None
    actions: dict[str, Any] | None = None
    stop_processing: bool | None = None


class RuleOrder(BaseModel):
    rule_ids: list[str] = Field(min_length=1, max_length=1000)


class DryRunIn(BaseModel):
    rule: RuleBody


class DryRunItem(BaseModel):
    response_id: str
    survey_id: str
    score: int
    category: str
    comment: str
    language: str
    submitted_at: datetime
    topics: list[str]
    sentiment: str | None


class DryRunOut(BaseModel):
    scanned: int
    matched: int
    without_analysis: int
    items: list[DryRunItem]


class TeamIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str | None = Field(None, max_length=64)
    name: str | None = Field(None, max_length=120)
    member_ids: list[str] | None = Field(None, max_length=500)
    notify_channel_ids: list[str] | None = Field(None, max_length=20)
    escalation_user_id: str | None = None
    escalation_channel_ids: list[str] | None = Field(None, max_length=20)


class TeamOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    key: str
    name: str
    member_ids: list[str]
    notify_channel_ids: list[str]
    escalation_user_id: str | None
    escalation_channel_ids: list[str]


class TicketOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    number: int
    subject: str
    status: str
    priority: str
    sla_state: str = ""
    response_id: str | None
    contact_id: str | None
    survey_id: str | None
    rule_id: str | None
    team_id: str | None
    owner_id: str | None
    original_score: int | None
    original_category: str | None
    sla_first_response_hours: float
    sla_resolution_hours: float
    first_response_due_at: datetime
    resolution_due_at: datetime
    first_responded_at: datetime | None
    sla_due_at: datetime | None
    escalation_level: int
    resolved_at: datetime | None
    closed_at: datetime | None
    reopen_count: int
    resolution_category: str | None
    resolution_note: str
    followup_days: int
    followup_score: int | None
    recovered: bool | None
    created_by: str
    created_at: datetime
    updated_at: datetime


class TicketList(BaseModel):
    items: list[TicketOut]
    total: int
    limit: int
    offset: int


class EventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    at: datetime
    actor: str
    kind: str
    old_value: str | None
    new_value: str | None
    detail: dict[str, Any]


class CommentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    kind: str
    author: str
    body: str
    channel_id: str | None
    message_id: str | None
    recipient: str | None
    created_at: datetime


class TicketDetail(TicketOut):
    events: list[EventOut] = Field(default_factory=list)
    comments: list[CommentOut] = Field(default_factory=list)


class TicketCreate(BaseModel):
    """Opens a ticket by hand on a response (rules open most tickets by themselves)."""

    model_config = ConfigDict(extra="forbid")

    response_id: str
    subject: str | None = Field(None, max_length=300)
    ticket: TicketAction = Field(default_factory=TicketAction)


class TicketPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: str | None = None
    priority: str | None = None
    owner_id: str | None = Field(None, description="'' or null with `unassign_owner` clears")
    team_id: str | None = None
    unassign_owner: bool = False
    subject: str | None = Field(None, max_length=300)
    resolution_category: str | None = None
    resolution_note: str | None = Field(None, max_length=5000)


class CommentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: str = Field(min_length=1, max_length=5000)
    internal: bool = Field(False, description="an internal note: never sent to integrations")


class ReplyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel_id: str
    body: str = Field(min_length=1, max_length=5000)
    subject: str | None = Field(None, max_length=200)


class BulkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ticket_ids: list[str] = Field(min_length=1, max_length=500)
    action: Literal["assign", "close"]
    owner_id: str | None = None
    team_id: str | None = None
    resolution_category: str | None = None


class BulkOut(BaseModel):
    changed: int
    unchanged: int
    errors: list[dict[str, Any]]


class TickOut(BaseModel):
    escalated: list[dict[str, str]]
    followups_invited: int
