"""Request and response bodies of /api/v1/referrals and /api/v1/lifecycle."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

CODE_PARAM = r"^[A-Za-z][A-Za-z0-9_\-]{0,31}$"


def check_url(value: str | None) -> str | None:
    if value is None or value == "":
        return value
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an http:// or https:// URL")
    return value


class ConversionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    code: str = Field(min_length=1, max_length=32, description="the referral code, e.g. K7MQ-X3PA")
    customer_external_id: str = Field(min_length=1, max_length=200,
                                      description="the new customer's id in your systems")
    value: float | None = Field(None, ge=0, le=1e12, description="e.g. the first order's amount")
    converted_at: datetime | None = Field(None, description="when; now if left out")

    @field_validator("converted_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("must include a time zone offset, e.g. 2026-01-31T10:00:00+08:00")
        return value


class ConversionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    code: str = ""
    customer_external_id: str
    value: float | None
    converted_at: datetime
    created: bool = True


class SettingsIn(BaseModel):
    """Fields left out keep their value."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    enabled: bool | None = None
    landing_url: str | None = Field(None, max_length=500)
    code_param: str | None = Field(None, pattern=CODE_PARAM)
    review_url: str | None = Field(None, max_length=500)
    share_text_zh: str | None = Field(None, max_length=500)
    share_text_en: str | None = Field(None, max_length=500)
    incentive_zh: str | None = Field(None, max_length=300)
    incentive_en: str | None = Field(None, max_length=300)
    burst_max_visits: int | None = Field(None, ge=1, le=1000)
    burst_window_minutes: int | None = Field(None, ge=1, le=1440)

    _urls = field_validator("landing_url", "review_url")(check_url)


class SettingsOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    enabled: bool
    landing_url: str
    code_param: str
    review_url: str
    share_text_zh: str
    share_text_en: str
    incentive_zh: str
    incentive_en: str
    burst_max_visits: int
    burst_window_minutes: int


class CampaignIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field("", max_length=200)
    purpose: str = Field("refer", pattern=r"^(refer|review)$")
    lookback_days: int = Field(30, ge=1, le=365)
    channel_ids: list[str] = Field(min_length=1, max_length=10)
    dry_run: bool = False


class CampaignOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    purpose: str
    lookback_days: int
    channel_ids: list[str]
    asked_count: int
    skipped: dict[str, Any]
    created_by: str
    created_at: datetime
