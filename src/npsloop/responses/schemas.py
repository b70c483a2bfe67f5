"""API shapes for responses."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator

Score = Annotated[StrictInt, Field(ge=0, le=10, description="0-10 answer to the NPS question")]
Rating = Annotated[StrictInt, Field(ge=1, le=5)]
AttributeValue = str | int | float | bool | None


class ContactIn(BaseModel):
    external_id: str = Field(min_length=1, max_length=200)
    attributes: dict[str, AttributeValue] = Field(default_factory=dict)
    email: str | None = Field(None, max_length=320)
    phone: str | None = Field(None, max_length=32)
    lifecycle_stage: Literal["acquisition", "retention", "conversion", "referral"] | None = None


class ResponseCreate(BaseModel):
    score: Score
    comment: str = Field("", max_length=5000)
    drivers: dict[str, Rating] = Field(default_factory=dict)
    choices: dict[str, list[str]] = Field(default_factory=dict)
    language: str | None = Field(None, description="zh-CN or en; the survey default if unset")
    channel: str = Field("api", min_length=1, max_length=32, pattern=r"^[a-z][a-z0-9_]*$")
    contact: ContactIn | None = None
    submitted_at: datetime | None = Field(
        None, description="when it was given; for importing history (API key only)"
    )
    idempotency_key: str | None = Field(None, min_length=1, max_length=128)
    status: Literal["partial", "complete"] = "complete"

    @field_validator("submitted_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("must include a time zone offset, e.g. 2026-01-31T10:00:00+08:00")
        return value


class AnswerOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    question_key: str
    kind: str
    number_value: float | None
    choice_values: list[str] | None


class ResponseOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    survey_id: str
    contact_id: str | None
    score: int
    category: str
    comment: str
    language: str
    channel: str
    status: str
    idempotency_key: str | None
    contact_attributes: dict[str, Any]
    submitted_at: datetime
    completed_at: datetime | None
    answers: list[AnswerOut]


class ResponseList(BaseModel):
    items: list[ResponseOut]
    total: int
    limit: int
    offset: int
