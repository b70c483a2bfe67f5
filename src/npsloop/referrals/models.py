"""Referral tables: per-organisation settings, promoters' codes, what happened to each code
(asked, shared, visited, converted), ask-promoter campaigns, and lifecycle-stage moves.

Privacy: a visit keeps a keyed hash of the visitor's IP address (HMAC with the site's
secret), never the address itself, plus the user agent; that is enough to spot a burst from
one address without storing who the visitor was.
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

from npsloop.core.db import Base, IdMixin, UTCDateTime, utcnow

DEFAULT_BURST_VISITS = 5
DEFAULT_BURST_MINUTES = 10


class EventKind(enum.StrEnum):
    asked = "asked"  # the promoter saw the invitation (thank-you page) or was sent a campaign
    shared = "shared"  # the promoter copied the link, saved the QR code or used the share sheet


class AskChannel(enum.StrEnum):
    thank_you = "thank_you"
    email = "email"
    sms = "sms"


class ShareMethod(enum.StrEnum):
    copy = "copy"
    qr = "qr"
    native = "native"


class CampaignPurpose(enum.StrEnum):
    refer = "refer"
    review = "review"


class ReferralSettings(Base):
    """How an organisation's referral invitation reads and where its link leads."""

    __tablename__ = "referral_settings"

    org_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Where /r/{code} sends a visitor; the code is appended as ?{code_param}=CODE.
    landing_url: Mapped[str] = mapped_column(String(500), default="")
    code_param: Mapped[str] = mapped_column(String(32), default="ref")
    review_url: Mapped[str] = mapped_column(String(500), default="")
    # Empty texts fall back to the built-in wording of the locale catalogs.
    share_text_zh: Mapped[str] = mapped_column(Text, default="")
    share_text_en: Mapped[str] = mapped_column(Text, default="")
    incentive_zh: Mapped[str] = mapped_column(Text, default="")
    incentive_en: Mapped[str] = mapped_column(Text, default="")
    burst_max_visits: Mapped[int] = mapped_column(Integer, default=DEFAULT_BURST_VISITS)
    burst_window_minutes: Mapped[int] = mapped_column(Integer, default=DEFAULT_BURST_MINUTES)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class ReferralCode(IdMixin, Base):
    """A promoter's personal code. One per contact; an anonymous promoter's code is tied to
    the response instead. The touchpoint and lifecycle stage are snapshots taken when the
    code was made, so breakdowns do not shift when the contact later changes."""

    __tablename__ = "referral_codes"
    __table_args__ = (
        UniqueConstraint("code"),
        UniqueConstraint("org_id", "contact_id"),
        UniqueConstraint("response_id"),
        Index("ix_referral_codes_org_created", "org_id", "created_at"),
    )

    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(16))
    contact_id: Mapped[str | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL"), nullable=True
    )
    response_id: Mapped[str | None] = mapped_column(
        ForeignKey("responses.id", ondelete="SET NULL"), nullable=True
    )
    # Kept even if the contact is deleted: the self-referral guard compares against it.
    referrer_external_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    survey_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    touchpoint: Mapped[str] = mapped_column(String(100), default="")
    lifecycle_stage: Mapped[str | None] = mapped_column(String(16), nullable=True)
    score: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ReferralEvent(IdMixin, Base):
    """A code was offered to its promoter (asked) or passed on by them (shared)."""

    __tablename__ = "referral_events"
    __table_args__ = (
        Index("ix_referral_events_org_kind_time", "org_id", "kind", "occurred_at"),
        Index("ix_referral_events_code_kind", "code_id", "kind"),
    )

    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    code_id: Mapped[str] = mapped_column(ForeignKey("referral_codes.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    # asked: thank_you | email | sms; shared: copy | qr | native
    channel: Mapped[str] = mapped_column(String(16))
    campaign_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    message_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # The response whose thank-you page showed the invitation (one "asked" per response).
    response_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ReferralVisit(IdMixin, Base):
    """One open of /r/{code}. Visits in a burst from one address are kept but flagged, and
    flagged visits are left out of every funnel count."""

    __tablename__ = "referral_visits"
    __table_args__ = (
        Index("ix_referral_visits_org_ip_time", "org_id", "ip_hash", "visited_at"),
        Index("ix_referral_visits_code_time", "code_id", "visited_at"),
    )

    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    code_id: Mapped[str] = mapped_column(ForeignKey("referral_codes.id", ondelete="CASCADE"))
    ip_hash: Mapped[str] = mapped_column(String(64))
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    flag_reason: Mapped[str] = mapped_column(String(32), default="")
    visited_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ReferralConversion(IdMixin, Base):
    """A new customer who came through a code. One per customer and organisation."""

    __tablename__ = "referral_conversions"
    __table_args__ = (
        UniqueConstraint("org_id", "customer_external_id"),
        Index("ix_referral_conversions_code", "code_id"),
        Index("ix_referral_conversions_org_time", "org_id", "converted_at"),
    )

    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    code_id: Mapped[str] = mapped_column(ForeignKey("referral_codes.id", ondelete="CASCADE"))
    customer_external_id: Mapped[str] = mapped_column(String(200))
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    converted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    recorded_by: Mapped[str] = mapped_column(String(200), default="")


class ReferralCampaign(IdMixin, Base):
    """One run of "ask recent promoters to refer (or review)" and what it sent."""

    __tablename__ = "referral_campaigns"
    __table_args__ = (Index("ix_referral_campaigns_org_created", "org_id", "created_at"),)

    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    purpose: Mapped[str] = mapped_column(String(16), default=CampaignPurpose.refer.value)
    lookback_days: Mapped[int] = mapped_column(Integer, default=30)
    channel_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    asked_count: Mapped[int] = mapped_column(Integer, default=0)
    # {"no_address": 3, "recently_asked": 5, ...}: why eligible promoters were not asked.
    skipped: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LifecycleMove(IdMixin, Base):
    """A contact's lifecycle stage changed (recorded when the contact row is written, or
    observed from the stage snapshots of successive responses)."""

    __tablename__ = "lifecycle_moves"
    __table_args__ = (
        Index("ix_lifecycle_moves_org_time", "org_id", "moved_at"),
        Index("ix_lifecycle_moves_contact", "contact_id"),
    )

    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    contact_id: Mapped[str] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    from_stage: Mapped[str | None] = mapped_column(String(16), nullable=True)
    to_stage: Mapped[str | None] = mapped_column(String(16), nullable=True)
    # contact_write | referral_conversion | observed (from response snapshots)
    source: Mapped[str] = mapped_column(String(24), default="contact_write")
    moved_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
