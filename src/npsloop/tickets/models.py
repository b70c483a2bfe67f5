"""Close-the-loop tables: teams, rules, tickets with their history, comments and follow-ups.

A rule's conditions and actions are JSON validated by `rules.py` (one schema, shared by the
API, the evaluator and the dry run). `rule_matches` is the idempotency guard: one row per
(rule, response), inserted before any action runs, so a retried outbox event never opens a
second ticket or sends a second alert for the same rule and response.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from npsloop.core.db import Base, IdMixin, TimestampMixin, UTCDateTime, utcnow


class TicketStatus(enum.StrEnum):
    open = "open"
    in_progress = "in_progress"
    waiting_on_customer = "waiting_on_customer"
    resolved = "resolved"
    closed = "closed"


class Priority(enum.StrEnum):
    p0 = "P0"
    p1 = "P1"
    p2 = "P2"
    p3 = "P3"


class FollowUpStatus(enum.StrEnum):
    scheduled = "scheduled"  # waiting for its due time
    invited = "invited"  # due time passed: the invitation was recorded (and sent if it could)
    answered = "answered"  # the customer answered the follow-up survey
    cancelled = "cancelled"  # the ticket was reopened before the follow-up went out


class TicketSettings(Base):
    """Per-organisation counters and defaults (one row, created on first use)."""

    __tablename__ = "ticket_settings"

    org_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    # The last ticket number handed out; bumped with one atomic UPDATE per ticket.
    last_number: Mapped[int] = mapped_column(Integer, default=0)
    # Escalations of tickets whose team has no escalation channel go here.
    escalation_channel_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class Team(IdMixin, TimestampMixin, Base):
    __tablename__ = "ticket_teams"
    __table_args__ = (UniqueConstraint("org_id", "key"),)

    org_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    key: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(120))
    # Users (ids) who take tickets in round-robin order.
    member_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Where new tickets of this team are announced (e.g. the team's DingTalk group robot).
    notify_channel_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Who hears about an SLA breach: a user (email recipients) and channels.
    escalation_user_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    escalation_channel_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    # How many tickets round-robin has assigned so far; bumped atomically, so two
    # concurrent evaluations never take the same turn.
    rr_counter: Mapped[int] = mapped_column(Integer, default=0)


class Rule(IdMixin, TimestampMixin, Base):
    __tablename__ = "ticket_rules"
    __table_args__ = (Index("ix_ticket_rules_org_position", "org_id", "position"),)

    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(Integer, default=0)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    match: Mapped[str] = mapped_column(String(8), default="all")  # all | any
    conditions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    actions: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # A match stops the evaluation of later rules (first match wins).
    stop_processing: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str] = mapped_column(String(200), default="")


class RuleMatch(IdMixin, Base):
    __tablename__ = "ticket_rule_matches"
    __table_args__ = (UniqueConstraint("rule_id", "response_id"),)

    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    rule_id: Mapped[str] = mapped_column(ForeignKey("ticket_rules.id", ondelete="CASCADE"))
    response_id: Mapped[str] = mapped_column(
        ForeignKey("responses.id", ondelete="CASCADE"), index=True
    )
    ticket_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    matched_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ResponseTag(Base):
    """Tags a rule put on a response (contacts keep theirs in `Contact.tags`)."""

    __tablename__ = "ticket_response_tags"

    response_id: Mapped[str] = mapped_column(
        ForeignKey("responses.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(64), primary_key=True)
    org_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    rule_id: Mapped[str | None] = mapped_column(
        ForeignKey("ticket_rules.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Ticket(IdMixin, TimestampMixin, Base):
    __tablename__ = "tickets"
    __table_args__ = (
        UniqueConstraint("org_id", "number"),
        Index("ix_tickets_org_status", "org_id", "status"),
        Index("ix_tickets_org_created", "org_id", "created_at"),
        Index("ix_tickets_org_owner", "org_id", "owner_id"),
        Index("ix_tickets_sla_due", "org_id", "sla_due_at"),
    )

    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    subject: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(24), default=TicketStatus.open.value)
    priority: Mapped[str] = mapped_column(String(4), default=Priority.p2.value)
    response_id: Mapped[str | None] = mapped_column(
        ForeignKey("responses.id", ondelete="SET NULL"), nullable=True, index=True
    )
    contact_id: Mapped[str | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL"), nullable=True, index=True
    )
    survey_id: Mapped[str | None] = mapped_column(
        ForeignKey("surveys.id", ondelete="SET NULL"), nullable=True
    )
    rule_id: Mapped[str | None] = mapped_column(
        ForeignKey("ticket_rules.id", ondelete="SET NULL"), nullable=True
    )
    team_id: Mapped[str | None] = mapped_column(
        ForeignKey("ticket_teams.id", ondelete="SET NULL"), nullable=True, index=True
    )
    owner_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_by: Mapped[str] = mapped_column(String(200), default="")
    # The response's score and category when the ticket opened (for recovery).
    original_score: Mapped[int | None] = mapped_column(Integer, nullable=True)
    original_category: Mapped[str | None] = mapped_column(String(16), nullable=True)

    sla_first_response_hours: Mapped[float] = mapped_column(Float, default=24.0)
    sla_resolution_hours: Mapped[float] = mapped_column(Float, default=72.0)
    first_response_due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    resolution_due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    first_responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # The deadline that applies now (first response, then resolution) and the moment it
    # turns "at risk"; NULL while paused or done. Kept in step by sla.refresh so the inbox
    # can filter and sort by SLA state in SQL.
    sla_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    sla_warn_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Set while waiting on the customer: the resolution clock is paused.
    sla_paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    first_response_escalated_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime(), nullable=True
    )
    resolution_escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)

    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    resolution_category: Mapped[str | None] = mapped_column(String(40), nullable=True)
    resolution_note: Mapped[str] = mapped_column(Text, default="")

    # Follow-up survey N days after resolution (0: none) and its outcome.
    followup_days: Mapped[int] = mapped_column(Integer, default=0)
    followup_survey_id: Mapped[str | None] = mapped_column(
        ForeignKey("surveys.id", ondelete="SET NULL"), nullable=True
    )
    followup_channel_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    followup_score: Mapped[int | None] = mapped_column(Integer, nullable=True)
    recovered: Mapped[bool | None] = mapped_column(Boolean, nullable=True)


class TicketEvent(IdMixin, Base):
    """The history: who did what and when, with the old and new value of what changed."""

    __tablename__ = "ticket_events"
    __table_args__ = (Index("ix_ticket_events_ticket_at", "ticket_id", "at"),)

    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor: Mapped[str] = mapped_column(String(200))  # an email, "api_key:npl_…" or "system"
    actor_user_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # created | status | priority | owner | team | subject | resolution | comment | note |
    # reply | escalated | followup | recovered
    kind: Mapped[str] = mapped_column(String(24))
    old_value: Mapped[str | None] = mapped_column(String(300), nullable=True)
    new_value: Mapped[str | None] = mapped_column(String(300), nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class TicketComment(IdMixin, Base):
    """A comment (shared with integrations), an internal note, or a reply to the customer."""

    __tablename__ = "ticket_comments"
    __table_args__ = (Index("ix_ticket_comments_ticket_created", "ticket_id", "created_at"),)

    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16), default="comment")  # comment | note | reply
    author: Mapped[str] = mapped_column(String(200))
    author_user_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    body: Mapped[str] = mapped_column(Text)
    # Replies: the channel and queued message that carry it to the customer.
    channel_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    message_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    recipient: Mapped[str | None] = mapped_column(String(320), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TicketFollowUp(IdMixin, Base):
    """The follow-up survey invitation of a resolved ticket, and its answer."""

    __tablename__ = "ticket_followups"
    __table_args__ = (
        Index("ix_ticket_followups_status_due", "status", "due_at"),
        Index("ix_ticket_followups_contact_survey", "contact_id", "survey_id"),
    )

    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    contact_id: Mapped[str] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    survey_id: Mapped[str] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default=FollowUpStatus.scheduled.value)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    invited_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    channel_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    message_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    response_id: Mapped[str | None] = mapped_column(
        ForeignKey("responses.id", ondelete="SET NULL"), nullable=True
    )
    score: Mapped[int | None] = mapped_column(Integer, nullable=True)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
