"""Request and response bodies of the notify API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Language = Literal["zh-CN", "en"]


class ChannelCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str = Field(min_length=1, max_length=32)
    name: str = Field(min_length=1, max_length=120)
    config: dict[str, Any] = Field(default_factory=dict)
    language: Language | None = None
    enabled: bool = True


class ChannelUpdate(BaseModel):
    """Partial update; a secret sent back masked (as GET shows it) is kept."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=120)
    config: dict[str, Any] | None = None
    language: Language | None = None
    enabled: bool | None = None


class ChannelOut(BaseModel):
    id: str
    kind: str
    name: str
    enabled: bool
    language: str | None
    config: dict[str, Any]
    secret_fields: list[str]
    created_at: datetime
    updated_at: datetime
    # SMS channels: the URL to paste into the vendor console for delivery receipts.
    receipt_url: str | None = None


class ReceiptUrlOut(BaseModel):
    channel_id: str
    receipt_url: str | None


class ReceiptOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    phone: str
    vendor_id: str
    status: str  # awaiting | delivered | failed
    error_code: str
    error_message: str
    sent_at: datetime
    reported_at: datetime | None


class ChannelList(BaseModel):
    items: list[ChannelOut]


class KindOut(BaseModel):
    kind: str
    label: str
    secret_fields: list[str]
    needs_recipients: bool
    rate_limits: list[dict[str, float]]
    config_schema: dict[str, Any]


class TestRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    recipients: list[str] = Field(default_factory=list, max_length=20)


class AttemptOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    attempt_no: int
    started_at: datetime
    duration_ms: int
    outcome: str
    status_code: int | None
    vendor_code: str | None
    error: str
    worker_id: str


class MessageOut(BaseModel):
    id: str
    channel_id: str | None
    endpoint_id: str | None
    kind: str
    event_type: str | None
    title: str
    status: str
    attempts: int
    ordering_key: str | None
    dedupe_key: str | None
    next_attempt_at: datetime | None
    last_error: str
    created_at: datetime
    delivered_at: datetime | None
    dead_at: datetime | None
    # The id receivers see (webhook-id header, Message-ID, SMS OutId) to drop duplicates.
    delivery_id: str
    log: list[AttemptOut] | None = None
    # SMS with receipts on: awaiting | delivered | failed (None: no receipt expected).
    receipt_status: str | None = None
    receipt_error: str | None = None
    receipts: list[ReceiptOut] | None = None


class MessageList(BaseModel):
    items: list[MessageOut]
    total: int


class TestResult(BaseModel):
    message_id: str
    outcome: str  # delivered | failed | deferred (rate-limited: the worker sends it later)
    status_code: int | None = None
    vendor_code: str | None = None
    error: str = ""


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=2000)
    event_types: list[str] = Field(min_length=1)
    description: str = Field("", max_length=500)
    secret: str | None = Field(None, description="whsec_…; generated when omitted")
    enabled: bool = True


class WebhookUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(None, min_length=1, max_length=2000)
    event_types: list[str] | None = None
    description: str | None = Field(None, max_length=500)
    enabled: bool | None = None
    rotate_secret: bool = False


class WebhookOut(BaseModel):
    id: str
    url: str
    description: str
    event_types: list[str]
    enabled: bool
    disabled_reason: str
    disabled_at: datetime | None
    secret: str  # masked, except in the reply that created or rotated it
    created_at: datetime
    updated_at: datetime


class WebhookList(BaseModel):
    items: list[WebhookOut]
    event_types: list[str]
