"""Notification channels, webhook endpoints, the delivery queue and its log.

`notify_messages` is the queue itself: a row is written in the caller's transaction (so a
ticket and its notification commit or roll back together) and a worker leases due rows.
Every send is logged in `notify_delivery_attempts`; `notify_rate_buckets` holds the recent
send times per vendor robot so that all workers share one rate limit.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from npsloop.core.db import Base, IdMixin, TimestampMixin, UTCDateTime, utcnow


class MessageStatus(enum.StrEnum):
    pending = "pending"  # waiting for its turn, its retry time or a rate-limit slot
    delivered = "delivered"
    dead = "dead"  # gave up: permanent error or too many attempts; an admin may retry


class AttemptOutcome(enum.StrEnum):
    delivered = "delivered"
    retry = "retry"  # failed, will be tried again
    failed = "failed"  # failed permanently (or the last allowed attempt)


class NotifyChannel(IdMixin, TimestampMixin, Base):
    """One configured destination: a DingTalk robot, an SMTP account, an SMS template..."""

    __tablename__ = "notify_channels"
    __table_args__ = (UniqueConstraint("org_id", "name"),)

    org_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(120))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Language of the messages sent here; None means the organisation's default.
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Fernet token of a JSON object holding the secret fields; never the clear secrets.
    secrets_encrypted: Mapped[str] = mapped_column(Text, default="")
    # SMS channels: the secret in the delivery-receipt URL the vendor pushes to, encrypted
    # like the other secrets (the page shows the full URL to paste into the vendor console).
    receipt_token_encrypted: Mapped[str] = mapped_column(Text, default="")


class WebhookEndpoint(IdMixin, TimestampMixin, Base):
    """An outgoing webhook subscription, signed per Standard Webhooks."""

    __tablename__ = "notify_webhook_endpoints"

    org_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str] = mapped_column(String(500), default="")
    event_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    secret_encrypted: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str] = mapped_column(String(500), default="")
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class NotifyMessage(IdMixin, Base):
    """One message to one destination; also the queue row the worker leases."""

    __tablename__ = "notify_messages"
    __table_args__ = (
        # A dedupe key makes enqueue idempotent per destination.
        UniqueConstraint("target", "dedupe_key"),
        Index("ix_notify_messages_due", "status", "next_attempt_at"),
        Index("ix_notify_messages_order", "target", "ordering_key", "created_at"),
        Index("ix_notify_messages_org_created", "org_id", "created_at"),
    )

    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    channel_id: Mapped[str | None] = mapped_column(
        ForeignKey("notify_channels.id", ondelete="CASCADE"), nullable=True, index=True
    )
    endpoint_id: Mapped[str | None] = mapped_column(
        ForeignKey("notify_webhook_endpoints.id", ondelete="CASCADE"), nullable=True, index=True
    )
    # "channel:<id>" or "endpoint:<id>": one column for ordering, dedupe and lookups.
    target: Mapped[str] = mapped_column(String(48))
    kind: Mapped[str] = mapped_column(String(16), default="notice")  # notice | event | test
    event_type: Mapped[str | None] = mapped_column(String(64), nullable=True)
    body: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    recipients: Mapped[list[str]] = mapped_column(JSON, default=list)
    ordering_key: Mapped[str | None] = mapped_column(String(128), nullable=True)
    dedupe_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default=MessageStatus.pending.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    locked_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    dead_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # SMS on a channel with receipts on: "awaiting" once the vendor accepted it, then
    # "delivered" or "failed" from the carrier's report (None: no receipt expected).
    receipt_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    receipt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    receipt_error: Mapped[str | None] = mapped_column(String(300), nullable=True)


class ReceiptStatus(enum.StrEnum):
    awaiting = "awaiting"  # the vendor accepted it; the carrier has not reported yet
    delivered = "delivered"
    failed = "failed"


class SmsReceipt(IdMixin, Base):
    """One recipient of one SMS: the vendor's id for it and what the carrier reported.

    Aliyun answers one BizId per request (shared by its numbers), so a report is matched by
    (biz_id, phone); Tencent answers a SerialNo per number, matched alone."""

    __tablename__ = "notify_sms_receipts"
    __table_args__ = (
        UniqueConstraint("channel_id", "vendor_id", "phone"),
        Index("ix_notify_sms_receipts_vendor", "channel_id", "vendor_id"),
    )

    message_id: Mapped[str] = mapped_column(
        ForeignKey("notify_messages.id", ondelete="CASCADE"), index=True
    )
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    channel_id: Mapped[str] = mapped_column(
        ForeignKey("notify_channels.id", ondelete="CASCADE")
    )
    vendor_id: Mapped[str] = mapped_column(String(100))
    # As sent (E.164 or national); erased with the contact ("[erased]").
    phone: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default=ReceiptStatus.awaiting.value)
    error_code: Mapped[str] = mapped_column(String(100), default="")
    error_message: Mapped[str] = mapped_column(String(300), default="")
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # When the carrier says it reached the phone (or failed); received_at: when we heard.
    reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class DeliveryAttempt(IdMixin, Base):
    """The delivery log: one row per send, whatever its outcome."""

    __tablename__ = "notify_delivery_attempts"

    message_id: Mapped[str] = mapped_column(
        ForeignKey("notify_messages.id", ondelete="CASCADE"), index=True
    )
    org_id: Mapped[str] = mapped_column(String(32), index=True)
    attempt_no: Mapped[int] = mapped_column(Integer)
    worker_id: Mapped[str] = mapped_column(String(100), default="")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    outcome: Mapped[str] = mapped_column(String(16))
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    vendor_code: Mapped[str | None] = mapped_column(String(100), nullable=True)
    error: Mapped[str] = mapped_column(Text, default="")


class RateBucket(Base):
    """Recent send times (Unix seconds) of one vendor robot, shared by every worker."""

    __tablename__ = "notify_rate_buckets"

    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    sent_at: Mapped[list[float]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
