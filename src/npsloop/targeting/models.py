"""Targeting: the organisation's contact-fatigue policy (with per-survey overrides), automatic
triggers ("when event E happens for a contact in segment S, invite by channel C after delay
T") and the log of every invite/no-invite decision with its reasons.

The decision log is written on every decision (campaign sends, triggers, the widget), so it
has one row per decision and a single (org, time) index: cheap to insert, and every view of
it is "one organisation, a time range, then filters".
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from npsloop.core.db import Base, IdMixin, TimestampMixin, UTCDateTime, utcnow

DEFAULT_RECONTACT_DAYS = 30


class FatiguePolicy(IdMixin, TimestampMixin, Base):
    """One per organisation; an organisation without a row gets the defaults below."""

    __tablename__ = "targeting_fatigue_policies"
    __table_args__ = (UniqueConstraint("org_id"),)

    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    # No new invitation while the contact was invited or answered (any survey) this recently.
    recontact_days: Mapped[int] = mapped_column(Integer, default=DEFAULT_RECONTACT_DAYS)
    # Share of eligible contacts actually invited, 0-100 (deterministic per contact,
    # survey and month).
    sampling_percent: Mapped[float] = mapped_column(Float, default=100.0)
    # Local "HH:MM" in the organisation's time zone; both empty = no quiet hours. The window
    # may cross midnight (22:00-08:00). Email/SMS are held until it ends.
    quiet_start: Mapped[str | None] = mapped_column(String(5), nullable=True)
    quiet_end: Mapped[str | None] = mapped_column(String(5), nullable=True)
    # At most cap_count invitations per contact in cap_days (both set, or no cap).
    cap_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    cap_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    updated_by: Mapped[str] = mapped_column(String(200), default="")


class SurveyFatigueOverride(IdMixin, TimestampMixin, Base):
    """A survey's own recontact window and/or sampling share (None = the organisation's)."""

    __tablename__ = "targeting_survey_overrides"
    __table_args__ = (UniqueConstraint("org_id", "survey_id"),)

    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    survey_id: Mapped[str] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"))
    recontact_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    sampling_percent: Mapped[float | None] = mapped_column(Float, nullable=True)


class Trigger(IdMixin, TimestampMixin, Base):
    """When event `event_name` happens for a contact in `segment_id` (None = everyone) whose
    event properties satisfy `conditions`, invite to `survey_id` by `channel` after
    `delay_seconds`."""

    __tablename__ = "targeting_triggers"
    __table_args__ = (Index("ix_targeting_triggers_org_event", "org_id", "event_name"),)

    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    event_name: Mapped[str] = mapped_column(String(100))
    # No foreign key on purpose: a deleted segment must not widen the trigger to everyone
    # (SET NULL would); the trigger then refuses with "not_in_segment" until edited.
    segment_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    survey_id: Mapped[str] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))  # email | sms | widget | api
    delay_seconds: Mapped[int] = mapped_column(Integer, default=0)
    # [{"property": "order_amount", "op": "gt", "value": 100}, ...], all must hold.
    conditions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(200), default="")


class DecisionLog(IdMixin, Base):
    """One invite/no-invite decision. `rule` is the first refusal's rule (None when
    eligible), so counts per rule are a GROUP BY; `reasons` keeps every refusal's rule and
    parameters, translated when shown."""

    __tablename__ = "targeting_decisions"
    __table_args__ = (Index("ix_targeting_decisions_org_created", "org_id", "created_at"),)

    org_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    contact_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    survey_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    channel: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16))  # campaign | trigger | api | widget
    eligible: Mapped[bool] = mapped_column(Boolean)
    rule: Mapped[str | None] = mapped_column(String(40), nullable=True)
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    invitation_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    trigger_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
