"""Outcome tables: which behaviour events mean repurchase and churn, the fitted propensity
models with their validation, per-contact scores, and win-back campaigns with their
randomised holdout.

A model row keeps everything needed to score without refitting (coefficients on the
standardised features, the means and scales used to standardise them) and the evidence that
it works (holdout AUC, Brier score and a calibration table from a time-based split).
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from npsloop.core.db import Base, IdMixin, UTCDateTime, utcnow

DEFAULT_REPURCHASE_EVENT = "order_placed"
DEFAULT_CHURN_EVENT = "subscription_cancelled"
DEFAULT_WINDOW_DAYS = 30


class Outcome(enum.StrEnum):
    repurchase = "repurchase"
    churn = "churn"


class Group(enum.StrEnum):
    contacted = "contacted"
    holdout = "holdout"


class OutcomeSettings(Base):
    """What repurchase and churn mean for one organisation. An empty `churn_event` means
    "churned = no repurchase event within the window" (inactivity)."""

    __tablename__ = "outcome_settings"

    org_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    repurchase_event: Mapped[str] = mapped_column(String(100), default=DEFAULT_REPURCHASE_EVENT)
    churn_event: Mapped[str] = mapped_column(String(100), default=DEFAULT_CHURN_EVENT)
    window_days: Mapped[int] = mapped_column(Integer, default=DEFAULT_WINDOW_DAYS)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class PropensityModel(IdMixin, Base):
    """One fit of a regularised logistic regression for one outcome (the newest per org and
    outcome is the one in use)."""

    __tablename__ = "outcome_models"
    __table_args__ = (Index("ix_outcome_models_org_outcome_fitted", "org_id", "outcome",
                            "fitted_at"),)

    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    outcome: Mapped[str] = mapped_column(String(16))
    window_days: Mapped[int] = mapped_column(Integer)
    event_name: Mapped[str] = mapped_column(String(100), default="")
    # Feature names, and per feature: coefficient, mean and scale (standardisation).
    features: Mapped[list[str]] = mapped_column(JSON, default=list)
    coefficients: Mapped[list[float]] = mapped_column(JSON, default=list)
    means: Mapped[list[float]] = mapped_column(JSON, default=list)
    scales: Mapped[list[float]] = mapped_column(JSON, default=list)
    intercept: Mapped[float] = mapped_column(Float, default=0.0)
    n_train: Mapped[int] = mapped_column(Integer, default=0)
    n_holdout: Mapped[int] = mapped_column(Integer, default=0)
    base_rate: Mapped[float] = mapped_column(Float, default=0.0)
    holdout_auc: Mapped[float | None] = mapped_column(Float, nullable=True)
    holdout_brier: Mapped[float | None] = mapped_column(Float, nullable=True)
    # [{"predicted": mean p, "observed": rate, "n": count}] per risk decile of the holdout.
    calibration: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    split_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    fitted_by: Mapped[str] = mapped_column(String(200), default="")
    fitted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ContactScore(Base):
    """A contact's current churn risk and repurchase propensity (from their latest answer
    and their behaviour up to `scored_at`)."""

    __tablename__ = "outcome_contact_scores"
    __table_args__ = (Index("ix_outcome_contact_scores_org_risk", "org_id", "churn_risk"),)

    contact_id: Mapped[str] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True
    )
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    response_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    score: Mapped[int | None] = mapped_column(Integer, nullable=True)
    category: Mapped[str | None] = mapped_column(String(16), nullable=True)
    churn_risk: Mapped[float | None] = mapped_column(Float, nullable=True)
    repurchase_propensity: Mapped[float | None] = mapped_column(Float, nullable=True)
    scored_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class WinbackCampaign(IdMixin, Base):
    """One win-back send to at-risk detractors, with the share kept back as a control."""

    __tablename__ = "winback_campaigns"
    __table_args__ = (Index("ix_winback_campaigns_org_created", "org_id", "created_at"),)

    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    min_risk: Mapped[float | None] = mapped_column(Float, nullable=True)
    segment_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    holdout_share: Mapped[float] = mapped_column(Float, default=0.15)
    window_days: Mapped[int] = mapped_column(Integer, default=DEFAULT_WINDOW_DAYS)
    offer_zh: Mapped[str] = mapped_column(Text, default="")
    offer_en: Mapped[str] = mapped_column(Text, default="")
    channel_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    contacted_count: Mapped[int] = mapped_column(Integer, default=0)
    holdout_count: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The random seed of the holdout draw, so the assignment can be re-derived and audited.
    assignment_seed: Mapped[str] = mapped_column(String(64), default="")
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class WinbackRecipient(Base):
    """One eligible contact of a campaign and the group the draw put them in."""

    __tablename__ = "winback_recipients"
    __table_args__ = (Index("ix_winback_recipients_org_contact", "org_id", "contact_id"),)

    campaign_id: Mapped[str] = mapped_column(
        ForeignKey("winback_campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    contact_id: Mapped[str] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True
    )
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    group: Mapped[str] = mapped_column(String(16))
    churn_risk: Mapped[float | None] = mapped_column(Float, nullable=True)
    message_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
