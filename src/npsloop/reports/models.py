"""User-made dashboards (a saved filter set and an ordered grid of widgets) and digest
reports (a schedule, recipients and the log of what was sent per period).

Filters are stored as the query pairs of analytics.filters (`[["channel", "app"], ...]`), so
a saved dashboard means exactly what the same URL on the insights pages means, and it is
re-validated (parse_filters) every time it is read.

`digest_runs` holds one row per (digest, period): the UNIQUE constraint is what makes a
period's report go out once, however many workers race for it or however late a worker
comes back after downtime; the row is then leased (claimed_by / claimed_until) while sending.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from npsloop.core.db import Base, IdMixin, TimestampMixin, UTCDateTime


class Dashboard(IdMixin, TimestampMixin, Base):
    __tablename__ = "report_dashboards"
    __table_args__ = (Index("ix_report_dashboards_org", "org_id"),)

    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(String(500), default="")
    # The user who made it (None when made with an API key); shown as its owner.
    owner_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    owner_label: Mapped[str] = mapped_column(String(320), default="")
    # Shared dashboards are listed for everyone in the organisation; private ones only for
    # their owner (and API keys, which act for the organisation).
    shared: Mapped[bool] = mapped_column(Boolean, default=True)
    filters: Mapped[list[list[str]]] = mapped_column(JSON, default=list)

    widgets: Mapped[list[DashboardWidget]] = relationship(
        back_populates="dashboard", cascade="all, delete-orphan",
        order_by="DashboardWidget.position", lazy="selectin",
    )


class DashboardWidget(IdMixin, TimestampMixin, Base):
    __tablename__ = "report_dashboard_widgets"

    dashboard_id: Mapped[str] = mapped_column(
        ForeignKey("report_dashboards.id", ondelete="CASCADE"), index=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(120), default="")
    position: Mapped[int] = mapped_column(Integer, default=0)
    # Grid width in twelfths: 4 (a third), 6 (half), 12 (full row).
    width: Mapped[int] = mapped_column(Integer, default=6)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    dashboard: Mapped[Dashboard] = relationship(back_populates="widgets")


class Frequency(enum.StrEnum):
    weekly = "weekly"
    monthly = "monthly"


class Digest(IdMixin, TimestampMixin, Base):
    __tablename__ = "report_digests"
    __table_args__ = (Index("ix_report_digests_org", "org_id"),)

    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(120))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    frequency: Mapped[str] = mapped_column(String(16), default=Frequency.weekly.value)
    weekday: Mapped[int] = mapped_column(Integer, default=0)  # 0 = Monday (weekly)
    day_of_month: Mapped[int] = mapped_column(Integer, default=1)  # 1..28 (monthly)
    hour: Mapped[int] = mapped_column(Integer, default=9)  # in the organisation's time zone
    language: Mapped[str] = mapped_column(String(8), default="zh-CN")
    recipients: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The email channel (notify) it is sent through.
    channel_id: Mapped[str | None] = mapped_column(
        ForeignKey("notify_channels.id", ondelete="SET NULL"), nullable=True)
    filters: Mapped[list[list[str]]] = mapped_column(JSON, default=list)
    # No run for periods that ended before this moment (a new digest does not send history).
    active_since: Mapped[datetime] = mapped_column(UTCDateTime())


class RunStatus(enum.StrEnum):
    sending = "sending"
    sent = "sent"
    failed = "failed"  # gave up after the last attempt; an admin may send it again


class DigestRun(IdMixin, TimestampMixin, Base):
    __tablename__ = "report_digest_runs"
    __table_args__ = (
        UniqueConstraint("digest_id", "period_key", name="uq_report_digest_runs_period"),
        Index("ix_report_digest_runs_status", "status", "claimed_until"),
    )

    digest_id: Mapped[str] = mapped_column(ForeignKey("report_digests.id", ondelete="CASCADE"))
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    # The reported period, e.g. "2026-W48" or "2026-11"; with its bounds (UTC).
    period_key: Mapped[str] = mapped_column(String(16))
    period_from: Mapped[datetime] = mapped_column(UTCDateTime())
    period_to: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16), default=RunStatus.sending.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    message_id: Mapped[str] = mapped_column(String(120), default="")
    error: Mapped[str] = mapped_column(Text, default="")
