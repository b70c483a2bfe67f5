"""API shapes for site keys."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class SiteKeyIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    allowed_origins: list[str] = Field(
        default_factory=list, max_length=20,
        description="exact origins allowed to call the widget, e.g. https://shop.example.com")
    verify_identity: bool = Field(
        False, description="require user_hash = HMAC-SHA256(identity_secret, user_id) on "
        "identify and track, computed by your server")


class SiteKeyUpdate(BaseModel):
    name: str | None = Field(None, min_length=1, max_length=200)
    allowed_origins: list[str] | None = Field(None, max_length=20)
    verify_identity: bool | None = None


class SiteKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    key: str
    allowed_origins: list[str]
    identity_secret: str | None
    created_by: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    snippet: str = ""


class SiteKeyList(BaseModel):
    items: list[SiteKeyOut]
