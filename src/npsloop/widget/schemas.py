"""API shapes for site keys."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class SiteKeyIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    allowed_origins: list[str] = Field(
        default_factory=list, max_length=20,
        description="exact origins allowed to call the widget, e.g. https://shop.example.com")


class SiteKeyUpdate(BaseModel):
    name: str | None = Field(None, min_length=1, max_length=200)
    allowed_origins: list[str] | None = Field(None, max_length=20)


class SiteKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    key: str
    allowed_origins: list[str]
    created_by: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    snippet: str = ""


class SiteKeyList(BaseModel):
    items: list[SiteKeyOut]
