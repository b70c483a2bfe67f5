"""Distribution: invitations (one per contact and send), campaigns to a segment, recurring
schedules with one run per due time, and unsubscribes.

An invitation is the unit the funnel counts: invited (row exists) -> delivered (notify
delivered the message) -> opened (personal link opened) -> started (a score saved) ->
completed (a complete response). Each stage keeps its first timestamp only.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from npsloop.core.db import Base, IdMixin, UTCDateTime, utcnow


class InvitationStatus(enum.StrEnum):
    scheduled = "scheduled"
    sent = "sent"
    delivered = "delivered"
    opened = "opened"
    started = "started"
    completed = "completed"
    dismissed = "dismissed"
    failed = "failed"
    cancelled = "cancelled"
    expired = "expired"


class CampaignStatus(enum.StrEnum):
    draft = "draft"  # created, not sent
    scheduled = "scheduled"  # sends itself at send_at (the worker starts it)
    sending = "sending"  # invitations created; the worker hands them to notify
    sent = "sent"  # every invitation handed over (or skipped)


class Campaign(IdMixin, Base):
    """One send of a survey to a segment's contacts over email or SMS."""

    __tablename__ = "distribution_campaigns"
    __table_args__ = (
        Index("ix_distribution_campaigns_org_created", "org_id", "created_at"),
        Index("ix_distribution_campaigns_due", "status", "send_at"),
    )

    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    survey_id: Mapped[str] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"))
    segment_id: Mapped[str] = mapped_column(
        ForeignKey("contact_segments.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))  # email | sms
    notify_channel_id: Mapped[str] = mapped_column(
        ForeignKey("notify_channels.id", ondelete="CASCADE"))
    # Message per language ("zh-CN", "en"): {"subject": ..., "body": ...}.
    messages: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    expires_days: Mapped[int] = mapped_column(Integer, default=30)
    status: Mapped[str] = mapped_column(String(16), default=CampaignStatus.draft.value)
    send_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    schedule_id: Mapped[str | None] = mapped_column(
        ForeignKey("distribution_schedules.id", ondelete="SET NULL"), nullable=True)
    schedule_run_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # Planning progress: the last contact id (segment order) already invited or skipped;
    # planned_at is set when the whole segment is done.
    cursor: Mapped[str | None] = mapped_column(String(32), nullable=True)
    planned_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    invited_count: Mapped[int] = mapped_column(Integer, default=0)
    deferred_count: Mapped[int] = mapped_column(Integer, default=0)
    # Contacts not invited, per fatigue rule ("unsubscribed", "recontact_window", ...).
    skipped: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Schedule(IdMixin, Base):
    """A recurring campaign: every N weeks or months from `starts_at`, or a cron expression
    in the organisation's time zone."""

    __tablename__ = "distribution_schedules"
    __table_args__ = (Index("ix_distribution_schedules_due", "enabled", "next_run_at"),)

    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"),
                                        index=True)
    name: Mapped[str] = mapped_column(String(200))
    survey_id: Mapped[str] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"))
    segment_id: Mapped[str] = mapped_column(
        ForeignKey("contact_segments.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    notify_channel_id: Mapped[str] = mapped_column(
        ForeignKey("notify_channels.id", ondelete="CASCADE"))
    messages: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    expires_days: Mapped[int] = mapped_column(Integer, default=30)
    every_unit: Mapped[str] = mapped_column(String(8))  # week | month | cron
    every_count: Mapped[int] = mapped_column(Integer, default=1)
    cron: Mapped[str] = mapped_column(String(120), default="")
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ScheduleRun(IdMixin, Base):
    """One run of a schedule for one due time; the unique pair is what makes a run happen
    once even when two workers (or a worker after downtime) reach the same due time."""

    __tablename__ = "distribution_schedule_runs"
    __table_args__ = (UniqueConstraint("schedule_id", "due_at"),)

    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    schedule_id: Mapped[str] = mapped_column(
        ForeignKey("distribution_schedules.id", ondelete="CASCADE"))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ran_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    campaign_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    worker_id: Mapped[str] = mapped_column(String(100), default="")


class Invitation(IdMixin, Base):
    __tablename__ = "invitations"
    __table_args__ = (
        # One invitation per contact per campaign: a campaign resent never invites twice.
        UniqueConstraint("campaign_id", "contact_id"),
        Index("ix_invitations_due", "status", "send_at"),
        Index("ix_invitations_org_survey_created", "org_id", "survey_id", "created_at"),
        Index("ix_invitations_contact", "contact_id", "created_at"),
        # The widget's "is an invitation waiting for this visitor?" (added by targeting's
        # migration 8b2d4f6a0004): without it both databases walk every due invitation.
        Index("ix_invitations_contact_channel_status", "contact_id", "channel", "status",
              "send_at"),
        Index("ix_invitations_message", "message_id"),
    )

    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    survey_id: Mapped[str] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"))
    contact_id: Mapped[str | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), nullable=True)
    channel: Mapped[str] = mapped_column(String(16))  # email | sms | widget | link | api
    source: Mapped[str] = mapped_column(String(16))  # campaign | trigger | api | widget
    campaign_id: Mapped[str | None] = mapped_column(
        ForeignKey("distribution_campaigns.id", ondelete="CASCADE"), nullable=True,
        index=True)
    trigger_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    schedule_run_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default=InvitationStatus.scheduled.value)
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    # The notify message that carries it (email / SMS); its outcome becomes ours.
    message_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    error: Mapped[str] = mapped_column(Text, default="")
    send_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    dismissed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    response_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Unsubscribe(IdMixin, Base):
    """A contact asked not to be surveyed on a channel ("email", "sms") or at all ("all")."""

    __tablename__ = "distribution_unsubscribes"
    __table_args__ = (UniqueConstraint("org_id", "contact_id", "channel"),)

    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    contact_id: Mapped[str] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    invitation_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
